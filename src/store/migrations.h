/* Numbered schema migrations embedded at build time (cmake/embed_sql.cmake). */
#ifndef IOTVAULT_STORE_MIGRATIONS_H
#define IOTVAULT_STORE_MIGRATIONS_H

struct migration {
	int number;
	const char *name;
	const char *sql;
};

extern const struct migration sqlite_migrations[];

#endif
