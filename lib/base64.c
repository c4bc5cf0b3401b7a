/* placeholder: being written */
typedef int placeholder_base64;
