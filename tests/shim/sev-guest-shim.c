/* placeholder: being written */
typedef int placeholder_sev_guest_shim;
