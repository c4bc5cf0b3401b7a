/* placeholder: being written */
typedef int placeholder_backend_simulator;
