// The two archive formats Strato imports, made from a built image: `docker save` tarballs (legacy and
// Docker 25+ layouts) and OCI image layout tarballs.
import {
  buildIndex,
  hexOf,
  OCI_INDEX,
  sha256Digest,
  tarOf,
  uncompressedImage,
  type BuiltImage,
  type LayerSpec,
} from './oci-image-build.js';

export interface DockerSaveOptions {
  /**
   * `legacy`: `<hex>/layer.tar` and `<hex>.json` (Docker < 25). `blobs`: `blobs/sha256/<hex>` for config and
   * layers plus `oci-layout`/`index.json` (Docker ≥ 25). @default 'legacy'
   */
  layout?: 'legacy' | 'blobs';
  /**
   * Write layers uncompressed, as `docker save` does (their digests are then the diff_ids). By default the
   * image's layer bytes are written as they are, so the archive's blobs have the BuiltImage's digests.
   * @default false
   */
  uncompressedLayers?: boolean;
}

/** A `docker save` tarball of `image` (manifest.json with Config, RepoTags, Layers). */
export async function dockerSaveArchive(
  image: BuiltImage,
  repoTag?: string,
  options: DockerSaveOptions = {},
): Promise<Buffer> {
  const layout = options.layout ?? 'legacy';
  const saved = options.uncompressedLayers === true ? uncompressedImage(image) : image;
  const entries: LayerSpec = [];
  const layerBytes = saved.layers.map((layer) => layer.bytes);
  const configName =
    layout === 'legacy' ? `${hexOf(saved.configDigest)}.json` : `blobs/sha256/${hexOf(saved.configDigest)}`;
  const layerNames = layerBytes.map((bytes) =>
    layout === 'legacy'
      ? `${hexOf(sha256Digest(bytes))}/layer.tar`
      : `blobs/sha256/${hexOf(sha256Digest(bytes))}`,
  );
  if (layout === 'blobs') {
    entries.push({ path: 'blobs/', type: 'dir' }, { path: 'blobs/sha256/', type: 'dir' });
  }
  entries.push({ path: configName, content: saved.config });
  const written = new Set<string>();
  layerBytes.forEach((bytes, position) => {
    const name = layerNames[position] ?? '';
    if (written.has(name)) return;
    written.add(name);
    if (layout === 'legacy') {
      const dir = name.slice(0, -'layer.tar'.length);
      entries.push({ path: dir, type: 'dir' }, { path: `${dir}VERSION`, content: '1.0' });
      entries.push({ path: `${dir}json`, content: JSON.stringify({ id: dir.slice(0, -1) }) });
    }
    entries.push({ path: name, content: bytes });
  });
  entries.push({
    path: 'manifest.json',
    content: JSON.stringify([
      { Config: configName, RepoTags: repoTag === undefined ? null : [repoTag], Layers: layerNames },
    ]),
  });
  if (layout === 'blobs') entries.push(...ociLayoutEntries(saved, false));
  else if (repoTag !== undefined) {
    const [repository, tag] = splitRepoTag(repoTag);
    const top = layerNames.at(-1)?.split('/')[0] ?? '';
    entries.push({ path: 'repositories', content: JSON.stringify({ [repository]: { [tag]: top } }) });
  }
  return tarOf(entries);
}

function splitRepoTag(repoTag: string): [string, string] {
  const colon = repoTag.lastIndexOf(':');
  return colon > repoTag.lastIndexOf('/')
    ? [repoTag.slice(0, colon), repoTag.slice(colon + 1)]
    : [repoTag, 'latest'];
}

export interface OciLayoutOptions {
  /** Put the manifest behind a nested index (index.json → index → manifest, with a linux/amd64 platform). */
  nestedIndex?: boolean;
  /** Entries to add to the archive (a test's extra or malicious entries). */
  extraEntries?: LayerSpec;
}

/** An OCI image layout tarball of `image`: `oci-layout`, `index.json`, `blobs/sha256/<hex>`. */
export async function ociLayoutArchive(image: BuiltImage, options: OciLayoutOptions = {}): Promise<Buffer> {
  const entries: LayerSpec = [
    { path: 'blobs/', type: 'dir' },
    { path: 'blobs/sha256/', type: 'dir' },
    { path: `blobs/sha256/${hexOf(image.configDigest)}`, content: image.config },
  ];
  const written = new Set<string>();
  for (const layer of image.layers) {
    if (written.has(layer.digest)) continue;
    written.add(layer.digest);
    entries.push({ path: `blobs/sha256/${hexOf(layer.digest)}`, content: layer.bytes });
  }
  entries.push(...ociLayoutEntries(image, options.nestedIndex ?? false), ...(options.extraEntries ?? []));
  return tarOf(entries);
}

/** `oci-layout`, the manifest blob and `index.json` (the archive's own entries except config and layers). */
function ociLayoutEntries(image: BuiltImage, nestedIndex: boolean): LayerSpec {
  const entries: LayerSpec = [
    { path: 'oci-layout', content: JSON.stringify({ imageLayoutVersion: '1.0.0' }) },
    { path: `blobs/sha256/${hexOf(image.manifestDigest)}`, content: image.manifest },
  ];
  let top = { mediaType: image.manifestMediaType, digest: image.manifestDigest, size: image.manifest.length };
  if (nestedIndex) {
    const index = buildIndex([{ image, platform: { os: 'linux', architecture: 'amd64' } }]);
    entries.push({ path: `blobs/sha256/${hexOf(index.digest)}`, content: index.bytes });
    top = { mediaType: index.mediaType, digest: index.digest, size: index.bytes.length };
  }
  entries.push({
    path: 'index.json',
    content: JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{ ...top, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }],
    }),
  });
  return entries;
}
