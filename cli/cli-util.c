/* placeholder: being written */
typedef int placeholder_cli_util;
