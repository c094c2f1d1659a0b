/* A shared object that is not a PKCS#11 module: it exports no C_GetFunctionList. */
int hsmp_not_a_module(void) { return 42; }
