/* `iotvault device import`: reached from the device command's dispatch. */
#ifndef IOTVAULT_CMD_IMPORT_H
#define IOTVAULT_CMD_IMPORT_H

/* ARGV[0] is "import". Returns the process exit status. */
int cmd_device_import(int argc, char **argv);

#endif
