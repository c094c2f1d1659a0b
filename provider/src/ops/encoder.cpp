#include "ops/encoder.hpp"

#include "ops/uri_pem.hpp"

#include <openssl/bio.h>
#include <openssl/core_dispatch.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <climits>

namespace hsmp::ops {
namespace {

std::vector<std::uint8_t> mem_contents(BIO* bio) {
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio, &data);
    if (len <= 0 || data == nullptr) {
        return {};
    }
    return {data, data + len};
}

BioPtr mem_bio() {
    return BioPtr(BIO_new(BIO_s_mem()));
}

Result<std::vector<std::uint8_t>> spki_der(const Key& key) {
    unsigned char* der = nullptr;
    const int len = i2d_PUBKEY(key.public_pkey(), &der);
    if (len <= 0 || der == nullptr) {
        return Error(Code::Internal, "cannot DER-encode the public key of " + key.describe());
    }
    std::vector<std::uint8_t> out(der, der + len);
    OPENSSL_free(der);
    return out;
}

Result<std::vector<std::uint8_t>> spki_pem(const Key& key) {
    BioPtr bio = mem_bio();
    if (!bio || PEM_write_bio_PUBKEY(bio.get(), key.public_pkey()) != 1) {
        return Error(Code::Internal, "cannot PEM-encode the public key of " + key.describe());
    }
    return mem_contents(bio.get());
}

// Public parts only, in the default provider's format, under a header that says where the
// private half lives. EVP_PKEY_print_public never reaches private components: the software
// key has none.
Result<std::vector<std::uint8_t>> text(const Key& key) {
    BioPtr bio = mem_bio();
    if (!bio) {
        return Error(Code::Internal, "out of memory");
    }
    const std::string kind(key_kind_name(key.kind()));
    std::string header;
    if (key.has_private()) {
        header = "PKCS#11 " + kind + " private key (in the token; private parts not exportable)\n";
    } else if (key.private_object() == nullptr && key.uri() != uri::Uri{}) {
        header = "PKCS#11 " + kind + " public key\n";
    } else {
        header = kind + " public key\n";
    }
    if (key.uri() != uri::Uri{}) {
        header += "URI: " + uri::format_redacted(key.uri()) + "\n";
    }
    if (BIO_write(bio.get(), header.data(), static_cast<int>(header.size())) !=
            static_cast<int>(header.size()) ||
        EVP_PKEY_print_public(bio.get(), key.public_pkey(), 0, nullptr) != 1) {
        return Error(Code::Internal, "cannot print the public key of " + key.describe());
    }
    return mem_contents(bio.get());
}

Result<std::vector<std::uint8_t>> key_reference_pem(const Key& key) {
    if (!key.has_private()) {
        return export_denied(key, "a key-reference PEM (the key has no private half in a token)");
    }
    if (!key.context().config().encode_uri_to_pem) {
        return export_denied(key, "a private key (pkcs11-module-encode-provider-uri-to-pem is "
                                  "off, so not even its URI is written)");
    }
    // Redact::Yes: the file must never carry a PIN; the provider configuration or the
    // application supplies it when the file is loaded.
    auto pem = uri_pem::encode_pem(uri::format(key.uri(), uri::Scope::Object, uri::Redact::Yes));
    if (!pem) {
        return pem.error().with_context(key.describe());
    }
    return std::vector<std::uint8_t>(pem->begin(), pem->end());
}

} // namespace

void BioFree::operator()(BIO* b) const noexcept {
    BIO_free(b);
}

bool encoder_does_selection(EncoderOutput output, int selection) noexcept {
    switch (output) {
    case EncoderOutput::SpkiDer:
    case EncoderOutput::SpkiPem:
        return (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0;
    case EncoderOutput::Text:
        return (selection & OSSL_KEYMGMT_SELECT_ALL) != 0;
    case EncoderOutput::KeyReferencePem:
    case EncoderOutput::DeniedPrivate:
        return (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0;
    }
    return false;
}

Error export_denied(const Key& key, std::string_view what) {
    return Error(Code::Unsupported, "private key material cannot be exported: " + key.describe() +
                                        " cannot be written as " + std::string(what));
}

Result<std::vector<std::uint8_t>> encode_key(const Key& key, EncoderOutput output, int selection) {
    if (key.public_pkey() == nullptr) {
        return Error(Code::Internal, key.describe() + " has no public parts to encode");
    }
    switch (output) {
    case EncoderOutput::SpkiDer:
        return spki_der(key);
    case EncoderOutput::SpkiPem:
        return spki_pem(key);
    case EncoderOutput::Text:
        return text(key);
    case EncoderOutput::KeyReferencePem:
        if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) == 0) {
            return Error(Code::InvalidArgument,
                         "a PrivateKeyInfo encoding was asked without the private key selected");
        }
        return key_reference_pem(key);
    case EncoderOutput::DeniedPrivate:
        return export_denied(key, "a DER or type-specific private key (write a PEM PrivateKeyInfo, "
                                  "e.g. openssl pkey -out key.pem, to get a key-reference file)");
    }
    return Error(Code::Internal, "unknown encoder output");
}

namespace {

// BIO_new_from_core_bio() works only in a library context made from the core's dispatch
// table (OSSL_LIB_CTX_new_from_dispatch or _new_child), which knows the core's BIO
// functions. ProviderContext's child context of the application's is one; until its
// accessor exists the software context is tried (and the error below says why it fails).
template <class Ctx> OSSL_LIB_CTX* core_bio_libctx(const Ctx& ctx) {
    if constexpr (requires { ctx.app_libctx(); }) {
        return ctx.app_libctx();
    } else {
        return ctx.software_libctx();
    }
}

} // namespace

Result<BioPtr> bio_from_core(const ProviderContext& ctx, OSSL_CORE_BIO* cbio) {
    BioPtr bio(BIO_new_from_core_bio(core_bio_libctx(ctx), cbio));
    if (!bio) {
        return Error(Code::Internal,
                     "cannot use OpenSSL's BIO: the provider's library context lacks the core "
                     "BIO functions");
    }
    return bio;
}

Result<void> write_core_bio(const ProviderContext& ctx, OSSL_CORE_BIO* out,
                            std::span<const std::uint8_t> bytes) {
    auto bio = bio_from_core(ctx, out);
    if (!bio) {
        return bio.error();
    }
    std::size_t done = 0;
    while (done < bytes.size()) {
        std::size_t written = 0;
        if (BIO_write_ex(bio->get(), bytes.data() + done, bytes.size() - done, &written) != 1 ||
            written == 0) {
            return Error(Code::Internal, "cannot write the encoded key to the output");
        }
        done += written;
    }
    return ok();
}

} // namespace hsmp::ops
