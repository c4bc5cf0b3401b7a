/* placeholder: being written */
typedef int placeholder_token_json;
