/* loom serve's libmicrohttpd, opened when a server is made (base/dl.h)
 * rather than linked into every loom command: the functions server.c
 * calls, named as libmicrohttpd names them without the MHD_ prefix. The
 * types and constants are libmicrohttpd's own (microhttpd.h). */
#ifndef LOOM_SERVE_MHD_H
#define LOOM_SERVE_MHD_H

#include <microhttpd.h>

struct serve_mhd {
    struct MHD_Daemon *(*start_daemon)(unsigned int flags, uint16_t port,
                                       MHD_AcceptPolicyCallback apc, void *apc_cls,
                                       MHD_AccessHandlerCallback dh, void *dh_cls, ...);
    const union MHD_DaemonInfo *(*get_daemon_info)(struct MHD_Daemon *d,
                                                   enum MHD_DaemonInfoType type, ...);
    MHD_socket (*quiesce_daemon)(struct MHD_Daemon *d);
    void (*stop_daemon)(struct MHD_Daemon *d);
    struct MHD_Response *(*create_response_from_buffer)(size_t size, void *buffer,
                                                        enum MHD_ResponseMemoryMode mode);
    enum MHD_Result (*add_response_header)(struct MHD_Response *r, const char *header,
                                           const char *content);
    enum MHD_Result (*queue_response)(struct MHD_Connection *c, unsigned int status,
                                      struct MHD_Response *r);
    void (*destroy_response)(struct MHD_Response *r);
    const char *(*lookup_connection_value)(struct MHD_Connection *c, enum MHD_ValueKind kind,
                                           const char *key);
    void (*suspend_connection)(struct MHD_Connection *c);
    void (*resume_connection)(struct MHD_Connection *c);
};

/* Filled by serve_mhd_load. */
extern struct serve_mhd serve_mhd;

/* Opens libmicrohttpd: 0, or LOOM_ENOTFOUND naming it and its package. */
int serve_mhd_load(void);

#endif
