/* pkcs11.so is built from the hsmp_abi archive (linked whole) plus this translation unit,
 * which exists only because a CMake MODULE target needs at least one source of its own.
 * OSSL_provider_init lives in entry.cpp; hsmp.map exports it and nothing else. */
typedef int hsmp_module_entry_unused;
