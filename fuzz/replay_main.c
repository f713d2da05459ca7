/* Replays a fuzz target's corpus without libFuzzer, so the ordinary and the
 * sanitizer builds (gcc) run every seed through LLVMFuzzerTestOneInput too.
 * Arguments are files or directories (one level, as libFuzzer reads them). */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Seeds are small; anything bigger is a mistake in the corpus. */
#define REPLAY_MAX_INPUT (1024 * 1024)

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t n;
	int r = -1;

	if (f == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	buf = malloc(REPLAY_MAX_INPUT + 1);
	if (buf == NULL)
		goto out;
	n = fread(buf, 1, REPLAY_MAX_INPUT + 1, f);
	if (ferror(f) || n > REPLAY_MAX_INPUT) {
		fprintf(stderr, "replay: %s: unreadable or larger than %d bytes\n", path,
			REPLAY_MAX_INPUT);
		goto out;
	}
	/* Exactly N bytes of heap, so ASan catches reads past the input. */
	{
		uint8_t *exact = malloc(n ? n : 1);
		if (exact == NULL)
			goto out;
		memcpy(exact, buf, n);
		LLVMFuzzerTestOneInput(exact, n);
		free(exact);
	}
	/* success */
	r = 0;
out:
	free(buf);
	fclose(f);
	return r;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_path(const char *path, int *count)
{
	struct stat st;
	DIR *dir = NULL;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int r = -1;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (replay_file(path) != 0)
			return -1;
		(*count)++;
		return 0;
	}
	dir = opendir(path);
	if (dir == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(dir)) != NULL) {
		char *full = NULL;
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 64;
			char **grown = realloc(names, ncap * sizeof(*names));
			if (grown == NULL)
				goto out;
			names = grown;
			cap = ncap;
		}
		if (asprintf(&full, "%s/%s", path, de->d_name) < 0)
			goto out;
		names[n++] = full;
	}
	/* a fixed order makes a failure reproducible from the log */
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		if (stat(names[i], &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (replay_file(names[i]) != 0)
			goto out;
		(*count)++;
	}
	/* success */
	r = 0;
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(dir);
	return r;
}

int main(int argc, char **argv)
{
	int count = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		if (replay_path(argv[i], &count) != 0)
			return 1;
	}
	if (count == 0) {
		fprintf(stderr, "replay: no inputs found\n");
		return 1;
	}
	printf("replay: %d inputs OK\n", count);
	return 0;
}
