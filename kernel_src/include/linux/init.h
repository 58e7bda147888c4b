#ifndef _LINUX_INIT_H
#define _LINUX_INIT_H

/*
 * Linux frees .init.text after boot; we keep everything, so __init is only
 * documentation: "called once, during boot".
 */
#define __init
#define __initdata

#endif
