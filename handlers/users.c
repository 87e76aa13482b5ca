/*
 * users - the classic demo users for the lookup contract: larry may come
 * in (password "wall"); dr_evil is known but forbidden (password
 * "1million", still checked: a wrong one gets 401 like anyone's).
 *
 *	<Object ppath="/private">
 *	  AuthTrans fn=auth-digest realm="demo" lookup=demo-users
 *	</Object>
 */
#include <string.h>

#include "ihttpd.h"

static int
demo_users(const char *path, const char *user, char *pw, size_t pwlen)
{
	static const struct { const char *user, *pw; int verdict; } users[] = {
		{ "larry", "wall", 200 },
		{ "dr_evil", "1million", 403 },
	};
	size_t i;

	(void)path;
	for (i = 0; i < sizeof(users) / sizeof(users[0]); i++)
		if (strcmp(user, users[i].user) == 0) {
			if (strlen(users[i].pw) >= pwlen)
				return 401;
			strcpy(pw, users[i].pw);
			return users[i].verdict;
		}
	return 401;
}
IH_LOOKUP("demo-users", demo_users);
