/* placeholder: being written */
typedef int placeholder_json_util;
