/* placeholder: being written */
typedef int placeholder_snp_decode;
