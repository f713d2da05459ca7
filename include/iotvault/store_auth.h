/* Storage operations of the authentication layer (sessions, API keys, login
 * attempts, TOTP state), reached as st->ops->auth->... */
#ifndef IOTVAULT_STORE_AUTH_H
#define IOTVAULT_STORE_AUTH_H

#include "iotvault/store.h"

struct store_auth_ops {
	int placeholder; /* replaced by the auth operations */
};

#endif
