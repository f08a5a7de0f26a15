/**
 * gRPC server credentials from the server's TlsSource (core/tls-source.ts): TLS, mutual TLS when a
 * client CA is configured, and new certificates for new connections after each reload, through
 * grpc-js's certificate-provider credentials fed by the TlsSource instead of a file poller.
 */
import { ServerCredentials, experimental } from '@grpc/grpc-js';
import type { TlsMaterial, TlsSource } from '../../core/tls-source.js';

type CertificateProvider = experimental.CertificateProvider;
type IdentityListener = experimental.IdentityCertificateUpdateListener;
type CaListener = experimental.CaCertificateUpdateListener;

/** A grpc-js CertificateProvider that always knows the TlsSource's current material. */
class TlsSourceProvider implements CertificateProvider {
  readonly #identity = new Set<IdentityListener>();
  readonly #ca = new Set<CaListener>();
  #material: TlsMaterial;

  constructor(source: TlsSource) {
    this.#material = source.material;
    source.subscribe((material) => {
      this.#material = material;
      for (const listener of this.#identity) listener({ certificate: material.cert, privateKey: material.key });
      for (const listener of this.#ca) listener(material.ca ? { caCertificate: material.ca } : null);
    });
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.#identity.add(listener);
    // Asynchronously, as grpc-js's own providers do: it registers the server's watcher only after this call.
    queueMicrotask(() => listener({ certificate: this.#material.cert, privateKey: this.#material.key }));
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.#identity.delete(listener);
  }

  addCaCertificateListener(listener: CaListener): void {
    this.#ca.add(listener);
    queueMicrotask(() => listener(this.#material.ca ? { caCertificate: this.#material.ca } : null));
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.#ca.delete(listener);
  }
}

export function grpcServerCredentials(tls: TlsSource | undefined): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure();
  const provider = new TlsSourceProvider(tls);
  return experimental.createCertificateProviderServerCredentials(provider, tls.mutual ? provider : null, tls.mutual);
}
