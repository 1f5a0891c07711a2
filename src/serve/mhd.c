/* loom serve's libmicrohttpd, opened on first use (see mhd.h). */
#include "config.h"
#include "serve/mhd.h"

#include "base/dl.h"

struct serve_mhd serve_mhd;

int serve_mhd_load(void)
{
    static const loom_dl_sym syms[] = {
        {"MHD_start_daemon", (void **)&serve_mhd.start_daemon},
        {"MHD_get_daemon_info", (void **)&serve_mhd.get_daemon_info},
        {"MHD_quiesce_daemon", (void **)&serve_mhd.quiesce_daemon},
        {"MHD_stop_daemon", (void **)&serve_mhd.stop_daemon},
        {"MHD_create_response_from_buffer", (void **)&serve_mhd.create_response_from_buffer},
        {"MHD_add_response_header", (void **)&serve_mhd.add_response_header},
        {"MHD_queue_response", (void **)&serve_mhd.queue_response},
        {"MHD_destroy_response", (void **)&serve_mhd.destroy_response},
        {"MHD_lookup_connection_value", (void **)&serve_mhd.lookup_connection_value},
        {"MHD_suspend_connection", (void **)&serve_mhd.suspend_connection},
        {"MHD_resume_connection", (void **)&serve_mhd.resume_connection},
        {NULL, NULL}};
    static loom_dl_lib lib = {LOOM_MHD_SONAME, "libmicrohttpd12", 0, 0, syms, 0};
    return loom_dl_load(&lib);
}
