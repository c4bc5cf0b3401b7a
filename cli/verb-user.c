/* placeholder: being written */
typedef int placeholder_verb_user;
