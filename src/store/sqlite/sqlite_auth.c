/* SQLite queries of the authentication layer. */
#include "iotvault/store_auth.h"
#include "store/sqlite/sqlite_internal.h"

const struct store_auth_ops sqlite_auth_ops = {0};
