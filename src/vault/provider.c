/* Chooses the master-key provider named in the configuration. */
#include "iotvault/mkprov.h"

int mk_provider_new(const struct config *cfg, int allow_prompt, struct mk_provider **out)
{
	switch (cfg->mk_provider) {
	case MK_PROVIDER_FILE:
		return mk_provider_file_new(cfg, out);
	case MK_PROVIDER_PASSPHRASE:
		return mk_provider_passphrase_new(cfg, allow_prompt, out);
	case MK_PROVIDER_PKCS11:
		return mk_provider_pkcs11_new(cfg, out);
	}
	return IV_ERR_CONFIG;
}

void mk_provider_free(struct mk_provider *p)
{
	if (p != NULL)
		p->ops->free(p);
}
