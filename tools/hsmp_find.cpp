// hsmp-find: resolves a pkcs11: URI through the project's PKCS#11 layer and prints what it
// finds: the module, the matching tokens and each object's canonical URI, class and key
// type. With --sign it signs a file with the single private key the URI names, inside the
// token, and writes the signature in the form `openssl dgst -sha256 -verify` (RSA PKCS#1
// v1.5, DER ECDSA) or `openssl pkeyutl -verify -rawin` (EdDSA) checks.
//
//   hsmp-find [--module PATH] [--init-args ARGS] [--pin-file FILE]
//             [--sign MESSAGE_FILE --out SIGNATURE_FILE] URI
//
// The PIN comes from --pin-file, the URI's pin-source, or nowhere (public objects only).
// Nothing secret is printed: URIs are shown redacted.
#include "ops/signature_encoding.hpp"
#include "pkcs11/library.hpp"
#include "pkcs11/operation.hpp"

#include <openssl/evp.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace {

int usage() {
    std::fputs("usage: hsmp-find [--module PATH] [--init-args ARGS] [--pin-file FILE]\n"
               "                 [--sign MESSAGE_FILE --out SIGNATURE_FILE] URI\n",
               stderr);
    return 2;
}

std::string hex(const std::vector<std::uint8_t>& bytes) {
    std::string out;
    char buf[3];
    for (const auto b : bytes) {
        std::snprintf(buf, sizeof buf, "%02x", b);
        out += buf;
    }
    return out;
}

const char* key_type_name(CK_KEY_TYPE t) {
    switch (t) {
    case CKK_RSA:
        return "RSA";
    case CKK_EC:
        return "EC";
    case CKK_EC_EDWARDS:
        return "EdDSA";
    case CKK_AES:
        return "AES";
    default:
        return "other";
    }
}

std::string key_detail(hsmp::p11::Object& obj) {
    auto lease = obj.token()->session();
    if (!lease) {
        return {};
    }
    auto h = obj.handle(lease.value());
    if (!h) {
        return {};
    }
    if (obj.key_type() == CKK_RSA) {
        if (auto n = hsmp::p11::read_attribute(*lease, *h, CKA_MODULUS)) {
            return std::to_string(n->size() * 8) + " bits";
        }
        if (auto bits = hsmp::p11::read_ulong_attribute(*lease, *h, CKA_MODULUS_BITS)) {
            return std::to_string(bits.value()) + " bits";
        }
    }
    if (obj.key_type() == CKK_EC || obj.key_type() == CKK_EC_EDWARDS) {
        if (auto params = hsmp::p11::read_attribute(*lease, *h, CKA_EC_PARAMS)) {
            return "params " + hex(params.value());
        }
    }
    return {};
}

std::optional<std::vector<std::uint8_t>> read_file(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
        std::fprintf(stderr, "hsmp-find: cannot read \"%s\": %s\n", path.c_str(),
                     std::strerror(errno));
        return std::nullopt;
    }
    std::vector<std::uint8_t> data;
    std::uint8_t buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
        data.insert(data.end(), buf, buf + n);
    }
    std::fclose(f);
    return data;
}

// Signs the message file inside the token and writes a signature OpenSSL can verify.
int sign_file(hsmp::p11::Object& key, const std::string& message_path,
              const std::string& out_path) {
    auto msg = read_file(message_path);
    if (!msg) {
        return 1;
    }
    hsmp::p11::Mechanism mech;
    std::vector<std::uint8_t> input;
    if (key.key_type() == CKK_RSA) {
        mech.type = CKM_SHA256_RSA_PKCS; // the token hashes and pads
        input = *msg;
    } else if (key.key_type() == CKK_EC) {
        mech.type = CKM_ECDSA; // hash here, sign the digest in the token
        input.resize(32);
        unsigned int dlen = 0;
        EVP_Digest(msg->data(), msg->size(), input.data(), &dlen, EVP_sha256(), nullptr);
    } else if (key.key_type() == CKK_EC_EDWARDS) {
        mech.type = CKM_EDDSA;
        input = *msg;
    } else {
        std::fprintf(stderr, "hsmp-find: --sign supports RSA, EC and EdDSA keys\n");
        return 1;
    }
    auto sig = hsmp::p11::sign(key, mech, input);
    if (!sig) {
        std::fprintf(stderr, "hsmp-find: signing failed: %s\n", sig.error().message().c_str());
        return 1;
    }
    std::vector<std::uint8_t> out = sig.value();
    if (key.key_type() == CKK_EC) {
        // PKCS#11 returns r || s; OpenSSL verifies the DER SEQUENCE of two INTEGERs, made by
        // the provider's own encoder (at most 10 bytes of DER framing around r and s).
        std::vector<std::uint8_t> der(out.size() + 10);
        const std::size_t len = hsmp::ops::sig::ecdsa_rs_to_der(out, der);
        if (len == 0) {
            std::fprintf(stderr,
                         "hsmp-find: the token returned a malformed ECDSA signature "
                         "(%zu bytes)\n",
                         out.size());
            return 1;
        }
        der.resize(len);
        out = std::move(der);
    }
    std::FILE* f = std::fopen(out_path.c_str(), "wb");
    if (f == nullptr || std::fwrite(out.data(), 1, out.size(), f) != out.size()) {
        std::fprintf(stderr, "hsmp-find: cannot write \"%s\"\n", out_path.c_str());
        if (f != nullptr) {
            std::fclose(f);
        }
        return 1;
    }
    std::fclose(f);
    std::printf("signed:  %zu-byte message inside the token, %zu-byte signature in %s\n",
                msg->size(), out.size(), out_path.c_str());
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    hsmp::p11::LibraryConfig config;
    std::string uri_text;
    std::string sign_path;
    std::string out_path;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
        if (arg == "--module") {
            const char* v = next();
            if (v == nullptr) {
                return usage();
            }
            config.module.path = v;
        } else if (arg == "--init-args") {
            const char* v = next();
            if (v == nullptr) {
                return usage();
            }
            config.module.init_args = v;
        } else if (arg == "--pin-file") {
            const char* v = next();
            if (v == nullptr) {
                return usage();
            }
            auto pin = hsmp::p11::read_pin_file(v, "--pin-file");
            if (!pin) {
                std::fprintf(stderr, "hsmp-find: %s\n", pin.error().message().c_str());
                return 1;
            }
            config.token_pin = std::move(pin).value();
        } else if (arg == "--sign" || arg == "--out") {
            const char* v = next();
            if (v == nullptr) {
                return usage();
            }
            (arg == "--sign" ? sign_path : out_path) = v;
        } else if (arg.starts_with("pkcs11:") || arg.starts_with("PKCS11:")) {
            uri_text = arg;
        } else {
            return usage();
        }
    }
    if (uri_text.empty() || sign_path.empty() != out_path.empty()) {
        return usage();
    }
    auto parsed = hsmp::uri::parse(uri_text);
    if (!parsed) {
        std::fprintf(stderr, "hsmp-find: %s\n", parsed.error.message.c_str());
        return 1;
    }
    const hsmp::uri::Uri& uri = *parsed.uri;
    hsmp::p11::Library lib(std::move(config));

    auto module = lib.module_for(uri);
    if (!module) {
        std::fprintf(stderr, "hsmp-find: %s\n", module.error().message().c_str());
        return 1;
    }
    std::printf("module:  %s (%s)\n", module.value()->path().c_str(),
                module.value()->uses_interface() ? "C_GetInterface" : "C_GetFunctionList");
    auto sel = lib.select(uri);
    if (!sel) {
        std::fprintf(stderr, "hsmp-find: %s\n", sel.error().message().c_str());
        return 1;
    }
    for (const auto& t : sel->tokens) {
        std::printf("token:   %s, manufacturer \"%s\", model \"%s\", slot %lu\n",
                    t->identity().describe().c_str(), t->identity().manufacturer.c_str(),
                    t->identity().model.c_str(), t->slot_id());
    }
    if (!sign_path.empty()) {
        auto key = lib.find_private_key(uri);
        if (!key) {
            std::fprintf(stderr, "hsmp-find: %s\n", key.error().message().c_str());
            return 1;
        }
        std::printf("key:     %s  [%s %s]\n", key.value()->describe().c_str(),
                    key_type_name(key.value()->key_type()), key_detail(*key.value()).c_str());
        return sign_file(*key.value(), sign_path, out_path);
    }
    auto objects = lib.find(uri, std::nullopt);
    if (!objects) {
        std::fprintf(stderr, "hsmp-find: %s\n", objects.error().message().c_str());
        return 1;
    }
    if (objects->empty()) {
        std::fprintf(stderr, "hsmp-find: no object matches %s\n",
                     hsmp::uri::format_redacted(uri).c_str());
        return 1;
    }
    for (const auto& o : objects.value()) {
        std::string kind(hsmp::p11::object_class_name(o->object_class()));
        if (o->object_class() != CKO_CERTIFICATE && o->object_class() != CKO_DATA) {
            kind += std::string(", ") + key_type_name(o->key_type());
            const std::string detail = key_detail(*o);
            if (!detail.empty()) {
                kind += ", " + detail;
            }
        }
        std::printf("object:  %s  [%s]\n", o->describe().c_str(), kind.c_str());
    }
    return 0;
}
