/* placeholder: being written */
typedef int placeholder_verbs_luks;
