/* The object model the server knows: resource types of the core objects
 * 1 (LwM2M Server) and 3 (Device), from the LwM2M 1.1 core specification
 * (appendix E). TLV carries untyped bytes, so a Read of these objects from a
 * LwM2M 1.0 client is typed through this table; other objects are left to
 * the content format (SenML carries types) or come back as opaque. */
#include "iotvault/lwm2m_dm.h"

#include <stddef.h>

#define T_NONE LWM2M_TYPE_NONE /* executable: no value */
#define T_INT LWM2M_TYPE_INTEGER
#define T_UINT LWM2M_TYPE_UNSIGNED
#define T_BOOL LWM2M_TYPE_BOOLEAN
#define T_STR LWM2M_TYPE_STRING
#define T_TIME LWM2M_TYPE_TIME
#define T_LNK LWM2M_TYPE_OBJLNK

static const enum lwm2m_type server_object[] = {
	T_INT,  /* 0 Short Server ID */
	T_INT,  /* 1 Lifetime */
	T_INT,  /* 2 Default Minimum Period */
	T_INT,  /* 3 Default Maximum Period */
	T_NONE, /* 4 Disable */
	T_INT,  /* 5 Disable Timeout */
	T_BOOL, /* 6 Notification Storing */
	T_STR,  /* 7 Binding */
	T_NONE, /* 8 Registration Update Trigger */
	T_NONE, /* 9 Bootstrap-Request Trigger */
	T_LNK,  /* 10 APN Link */
	T_UINT, /* 11 TLS-DTLS Alert Code */
	T_TIME, /* 12 Last Bootstrapped */
	T_UINT, /* 13 Registration Priority Order */
	T_UINT, /* 14 Initial Registration Delay Timer */
	T_BOOL, /* 15 Registration Failure Block */
	T_BOOL, /* 16 Bootstrap on Registration Failure */
	T_UINT, /* 17 Communication Retry Count */
	T_UINT, /* 18 Communication Retry Timer */
	T_UINT, /* 19 Communication Sequence Delay Timer */
	T_UINT, /* 20 Communication Sequence Retry Count */
	T_BOOL, /* 21 Trigger */
	T_STR,  /* 22 Preferred Transport */
	T_BOOL, /* 23 Mute Send */
};

static const enum lwm2m_type device_object[] = {
	T_STR,  /* 0 Manufacturer */
	T_STR,  /* 1 Model Number */
	T_STR,  /* 2 Serial Number */
	T_STR,  /* 3 Firmware Version */
	T_NONE, /* 4 Reboot */
	T_NONE, /* 5 Factory Reset */
	T_INT,  /* 6 Available Power Sources */
	T_INT,  /* 7 Power Source Voltage */
	T_INT,  /* 8 Power Source Current */
	T_INT,  /* 9 Battery Level */
	T_INT,  /* 10 Memory Free */
	T_INT,  /* 11 Error Code */
	T_NONE, /* 12 Reset Error Code */
	T_TIME, /* 13 Current Time */
	T_STR,  /* 14 UTC Offset */
	T_STR,  /* 15 Timezone */
	T_STR,  /* 16 Supported Binding and Modes */
	T_STR,  /* 17 Device Type */
	T_STR,  /* 18 Hardware Version */
	T_STR,  /* 19 Software Version */
	T_INT,  /* 20 Battery Status */
	T_INT,  /* 21 Memory Total */
	T_LNK,  /* 22 ExtDevInfo */
};

enum lwm2m_type lwm2m_object_resource_type(const struct lwm2m_path *path, void *arg)
{
	const enum lwm2m_type *table = NULL;
	size_t n = 0;
	(void)arg;
	if (path->depth < 3)
		return LWM2M_TYPE_NONE;
	if (path->id[0] == 1) {
		table = server_object;
		n = sizeof(server_object) / sizeof(server_object[0]);
	} else if (path->id[0] == 3) {
		table = device_object;
		n = sizeof(device_object) / sizeof(device_object[0]);
	}
	return table != NULL && path->id[2] < n ? table[path->id[2]] : LWM2M_TYPE_NONE;
}
