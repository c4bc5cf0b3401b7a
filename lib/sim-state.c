/* placeholder: being written */
typedef int placeholder_sim_state;
