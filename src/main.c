/* iotvault: the command dispatch table. One file per command in src/cmd/. */
#include "cmd/cli.h"
#include "iotvault/log.h"
#include "iotvault/secmem.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

static const struct command commands[] = {
	{"init", cmd_init, "create a data directory (database, master key, certificate, admin)"},
	{"tenant", cmd_tenant, "add and list tenants (each with its first admin)"},
	{"device", cmd_device, "add, list, show (--reveal: audited) and delete devices"},
	{"peer", cmd_peer, "LoRaWAN backend peers (network and application servers) and their KEKs"},
	{"keygen", cmd_keygen, "generate AppKeys, NwkKeys, PSKs and PSK identities"},
	{"hygiene", cmd_hygiene, "fleet key-hygiene report; fingerprint key rotation"},
	{"lwm2m-pki", cmd_lwm2m_pki, "LwM2M RPK/X.509: a tenant's device CA, a device's DM security mode"},
	{"master", cmd_master, "master key status, rotation and retirement"},
	{"audit", cmd_audit, "verify and list the tamper-evident audit log"},
	{"serve", cmd_serve, "run the HTTPS API server"},
	{"version", cmd_version, "print the version"},
};

static void print_help(FILE *f)
{
	fprintf(f, "usage: iotvault [--help] [--version] COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n`iotvault COMMAND --help` describes a command. Exit status: 0 success,\n"
		   "1 runtime failure, 2 usage or invalid input, 3 not found, 4 exists or refused,\n"
		   "5 integrity failure, 6 security precondition failed (see README.md).\n");
}

int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("iotvault %s\n", IOTVAULT_VERSION);
	return 0;
}

int main(int argc, char **argv)
{
	struct rlimit no_core = {0, 0};

	/* key material must never reach a core file */
	setrlimit(RLIMIT_CORE, &no_core);
	/* everything iotvault creates is private to its user */
	umask(077);
	if (secmem_init() != 0) {
		fprintf(stderr, "iotvault: cannot initialise libsodium\n");
		return 1;
	}
	log_set_quiet(1);
	if (argc < 2) {
		print_help(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		print_help(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0)
		return cmd_version(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "iotvault: unknown command '%s'\n\n", argv[1]);
	print_help(stderr);
	return 2;
}
