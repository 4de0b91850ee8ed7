/* Schema migrations (see schema.c). */
#ifndef EMU_SCHEMA_H
#define EMU_SCHEMA_H

int schema_count(void);
const char *schema_migration(int i);

#endif
