/* Backend-independent parts of the store interface. */
#include "iotvault/store.h"

#include <time.h>

void store_close(struct store *st)
{
	if (st != NULL)
		st->ops->close(st);
}

int64_t store_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
