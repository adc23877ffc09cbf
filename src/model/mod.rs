//! Records -> one graph. No I/O: everything here is derived from a `Scan`.
//!
//! Typed nodes (image, tag, layer, overlay2 dir, `l/` link, container, volume) live in
//! typed vectors; the relations between them live in the petgraph graph, as typed
//! edges, but for the two every image's stack is walked by (image -> top layer, layer ->
//! parent layer): those are index vectors, cheaper to follow than edge lists. Reports
//! ask the model, never the disk.

pub mod ids;
pub mod resolve;
pub mod size;

use crate::problem::{Problem, ProblemKind};
use crate::scan::imagedb::HistoryEntry;
use crate::scan::layout::Layout;
use crate::scan::{
    ContainerRec, DirRec, ImageMetaRec, ImageRec, LayerRec, LinkRec, MountRec, RefRec, RemovingRec,
    Scan, TmpRec, VolumeRec,
};
use ids::{ChainId, FastMap, ImageId};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use std::collections::{HashMap, HashSet};

/// A node of the graph: which typed vector, and the index in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Node {
    Image(usize),
    Tag(usize),
    Layer(usize),
    Dir(usize),
    Link(usize),
    Container(usize),
    Volume(usize),
}

impl Node {
    pub fn image(self) -> Option<usize> {
        if let Node::Image(i) = self {
            Some(i)
        } else {
            None
        }
    }
    pub fn tag(self) -> Option<usize> {
        if let Node::Tag(i) = self {
            Some(i)
        } else {
            None
        }
    }
    pub fn layer(self) -> Option<usize> {
        if let Node::Layer(i) = self {
            Some(i)
        } else {
            None
        }
    }
    pub fn dir(self) -> Option<usize> {
        if let Node::Dir(i) = self {
            Some(i)
        } else {
            None
        }
    }
    pub fn link(self) -> Option<usize> {
        if let Node::Link(i) = self {
            Some(i)
        } else {
            None
        }
    }
    pub fn container(self) -> Option<usize> {
        if let Node::Container(i) = self {
            Some(i)
        } else {
            None
        }
    }
}

/// A relation between two nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edge {
    /// layer -> its overlay2 dir (`cache-id`)
    LayerDir,
    /// `l/` link -> the dir it points at
    LinkDir,
    /// dir -> the first dir named in its `lower` file (the parent layer's dir)
    Lower,
    /// tag -> image
    TagImage,
    /// image -> parent image (imagedb metadata `parent`)
    ImageParent,
    /// container -> image it was created from
    ContainerImage,
    /// container -> the layer its RW layer sits on (`mounts/<id>/parent`)
    ContainerLayer,
    /// container -> its RW dir (`mount-id`)
    RwDir,
    /// container -> its init dir (`init-id`)
    InitDir,
    /// container -> a volume it mounts
    ContainerVolume,
}

/// An image: its config, its metadata and what the graph says of it.
#[derive(Clone, Debug)]
pub struct Image {
    pub rec: ImageRec,
    pub meta: Option<ImageMetaRec>,
    /// The chain id of the top layer, computed from the config's diff ids.
    pub top_chain: Option<ChainId>,
    /// Docker would load this image: config digest right and every chain layer loadable.
    pub loaded: bool,
}

impl Image {
    /// Chain ids computed from the config's diff ids, base first.
    pub fn chain(&self) -> &[ChainId] {
        &self.rec.chain
    }
}

/// A container with its layerdb mount.
#[derive(Clone, Debug)]
pub struct Container {
    pub rec: ContainerRec,
    pub mount: Option<MountRec>,
}

/// The whole root as one graph.
pub struct Model {
    pub graph: DiGraph<Node, Edge>,
    pub layout: Layout,
    pub images: Vec<Image>,
    pub tags: Vec<RefRec>,
    pub layers: Vec<LayerRec>,
    pub dirs: Vec<DirRec>,
    pub links: Vec<LinkRec>,
    pub containers: Vec<Container>,
    pub volumes: Vec<VolumeRec>,
    /// Mounts whose container has no config (`mount-without-container`).
    pub stray_mounts: Vec<MountRec>,
    /// Image metadata dirs with no config.
    pub stray_image_meta: Vec<ImageMetaRec>,
    pub removing: Vec<RemovingRec>,
    pub layerdb_tmp: Vec<TmpRec>,
    /// Entries of `tmp/` and `tmp-old/` (partial downloads).
    pub download_tmp: Vec<String>,
    /// BuildKit's snapshot keys, when `buildkit/snapshots.db` was read.
    pub buildkit_snapshots: Option<HashSet<String>>,
    /// Docker's containerd image store: containerd's own facts (`None` on a classic root).
    pub containerd: Option<Box<crate::scan::containerd::records::C8d>>,
    pub problems: Vec<Problem>,
    image_nodes: Vec<NodeIndex>,
    layer_nodes: Vec<NodeIndex>,
    dir_nodes: Vec<NodeIndex>,
    container_nodes: Vec<NodeIndex>,
    image_by_id: FastMap<ImageId, usize>,
    layer_by_chain: FastMap<ChainId, usize>,
    dir_by_id: FastMap<String, usize>,
    /// Per layer: can Docker load it (its files complete and its parents loadable)?
    layer_loadable: Vec<bool>,
    /// Per layer: the loaded images whose chain holds it, sorted.
    layer_images: Vec<Vec<usize>>,
    /// Per layer: its parent layer (from the layerdb `parent` file).
    layer_parents: Vec<Option<usize>>,
    /// Per image: the layer at the top of its chain.
    image_tops: Vec<Option<usize>>,
}

impl Model {
    pub fn build(scan: Scan) -> Model {
        let Scan {
            layout,
            images,
            image_meta,
            layers,
            removing,
            mounts,
            layerdb_tmp,
            download_tmp,
            dirs,
            links,
            refs,
            containers,
            volumes,
            buildkit_snapshots,
            containerd,
            mut problems,
        } = scan;
        let mut graph = DiGraph::new();

        let dir_nodes: Vec<NodeIndex> = (0..dirs.len())
            .map(|i| graph.add_node(Node::Dir(i)))
            .collect();
        let dir_by_id: FastMap<String, usize> = dirs
            .iter()
            .enumerate()
            .map(|(i, d)| (d.id.clone(), i))
            .collect();
        let link_nodes: Vec<NodeIndex> = (0..links.len())
            .map(|i| graph.add_node(Node::Link(i)))
            .collect();
        let mut link_dir: FastMap<&str, usize> = FastMap::default();
        for (i, l) in links.iter().enumerate() {
            if let Some(&d) = l.dir_id.as_ref().and_then(|id| dir_by_id.get(id)) {
                graph.add_edge(link_nodes[i], dir_nodes[d], Edge::LinkDir);
                link_dir.insert(l.name.as_str(), d);
            }
        }
        for (i, d) in dirs.iter().enumerate() {
            // Only the first lower is an edge: the rest of `lower` is that dir's own
            // `lower` (verify checks it), and all of it would be O(depth²) edges.
            if let Some(&target) = d.lower().next().and_then(|name| link_dir.get(name)) {
                graph.add_edge(dir_nodes[i], dir_nodes[target], Edge::Lower);
            }
        }

        let layer_nodes: Vec<NodeIndex> = (0..layers.len())
            .map(|i| graph.add_node(Node::Layer(i)))
            .collect();
        let layer_by_chain: FastMap<ChainId, usize> = layers
            .iter()
            .enumerate()
            .map(|(i, l)| (l.chain_id.clone(), i))
            .collect();
        let mut layer_parents = vec![None; layers.len()];
        for (i, l) in layers.iter().enumerate() {
            if let Some(p) = &l.parent {
                if let Some(&pi) = layer_by_chain.get(p) {
                    layer_parents[i] = Some(pi);
                } else {
                    problems.push(Problem::new(
                        format!("{}/parent", l.path),
                        ProblemKind::BrokenReference,
                        format!("parent layer {} is not in layerdb; Docker drops this layer and every image on it", p.short()),
                    ));
                }
            }
            if let Some(c) = &l.cache_id {
                if let Some(&d) = dir_by_id.get(c) {
                    graph.add_edge(layer_nodes[i], dir_nodes[d], Edge::LayerDir);
                }
            }
        }
        let layer_loadable = loadable_layers(&layers, &layer_parents);

        let mut meta_by_id: FastMap<ImageId, ImageMetaRec> =
            image_meta.into_iter().map(|m| (m.id.clone(), m)).collect();
        let mut model_images = Vec::with_capacity(images.len());
        for rec in images {
            let chain = &rec.chain;
            let meta = meta_by_id.remove(&rec.id);
            // containerd store: an image lists when its config reads, unpacked or not.
            let loaded = rec.digest_ok
                && (containerd.is_some()
                    || chain
                        .iter()
                        .all(|c| layer_by_chain.get(c).is_some_and(|&l| layer_loadable[l])));
            if rec.digest_ok && !loaded {
                let missing = chain.iter().find(|c| !layer_by_chain.contains_key(*c));
                let detail = match missing {
                    Some(c) => format!(
                        "layer {} of its chain is not in layerdb; Docker does not load this image",
                        c.short()
                    ),
                    None => {
                        "a layer of its chain cannot be loaded; Docker does not load this image"
                            .to_owned()
                    }
                };
                problems.push(Problem::new(
                    rec.path.clone(),
                    ProblemKind::BrokenReference,
                    detail,
                ));
            }
            let top_chain = chain.last().cloned();
            model_images.push(Image {
                rec,
                meta,
                top_chain,
                loaded,
            });
        }
        let mut stray_image_meta: Vec<ImageMetaRec> = meta_by_id.into_values().collect();
        stray_image_meta.sort_by(|a, b| a.id.cmp(&b.id));
        let image_nodes: Vec<NodeIndex> = (0..model_images.len())
            .map(|i| graph.add_node(Node::Image(i)))
            .collect();
        let image_by_id: FastMap<ImageId, usize> = model_images
            .iter()
            .enumerate()
            .map(|(i, im)| (im.rec.id.clone(), i))
            .collect();
        let mut image_tops = vec![None; model_images.len()];
        for (i, im) in model_images.iter().enumerate() {
            if let Some(&top) = im.top_chain.as_ref().and_then(|c| layer_by_chain.get(c)) {
                image_tops[i] = Some(top);
            }
            if let Some(p) = im.meta.as_ref().and_then(|m| m.parent.as_ref()) {
                if let Some(&pi) = image_by_id.get(p) {
                    graph.add_edge(image_nodes[i], image_nodes[pi], Edge::ImageParent);
                }
            }
        }

        let tag_nodes: Vec<NodeIndex> = (0..refs.len())
            .map(|i| graph.add_node(Node::Tag(i)))
            .collect();
        for (i, r) in refs.iter().enumerate() {
            match image_by_id.get(&r.image) {
                Some(&im) => {
                    graph.add_edge(tag_nodes[i], image_nodes[im], Edge::TagImage);
                }
                None => problems.push(Problem::new(
                    format!("{}/repositories.json", crate::scan::IMAGE_DIR),
                    ProblemKind::BrokenReference,
                    format!(
                        "{} names image {} which has no config in imagedb",
                        r.reference,
                        r.image.short()
                    ),
                )),
            }
        }

        let volume_nodes: Vec<NodeIndex> = (0..volumes.len())
            .map(|i| graph.add_node(Node::Volume(i)))
            .collect();
        let volume_by_name: HashMap<&str, usize> = volumes
            .iter()
            .enumerate()
            .map(|(i, v)| (v.name.as_str(), i))
            .collect();
        let mut mounts_by_id: FastMap<String, MountRec> = mounts
            .into_iter()
            .map(|m| (m.container_id.as_str().to_owned(), m))
            .collect();
        let mut model_containers = Vec::with_capacity(containers.len());
        let mut container_nodes = Vec::with_capacity(containers.len());
        for rec in containers {
            let mount = mounts_by_id.remove(rec.id.as_str());
            let i = model_containers.len();
            let node = graph.add_node(Node::Container(i));
            container_nodes.push(node);
            if let Some(&im) = rec.image.as_ref().and_then(|id| image_by_id.get(id)) {
                graph.add_edge(node, image_nodes[im], Edge::ContainerImage);
            }
            if let Some(m) = &mount {
                if let Some(&l) = m.parent.as_ref().and_then(|p| layer_by_chain.get(p)) {
                    graph.add_edge(node, layer_nodes[l], Edge::ContainerLayer);
                }
                if let Some(&d) = m.mount_id.as_ref().and_then(|id| dir_by_id.get(id)) {
                    graph.add_edge(node, dir_nodes[d], Edge::RwDir);
                }
                if let Some(&d) = m.init_id.as_ref().and_then(|id| dir_by_id.get(id)) {
                    graph.add_edge(node, dir_nodes[d], Edge::InitDir);
                }
            }
            let mut seen = HashSet::new();
            for mp in &rec.mounts {
                if mp.kind == "volume" || (mp.kind.is_empty() && !mp.name.is_empty()) {
                    if let Some(&v) = volume_by_name.get(mp.name.as_str()) {
                        if seen.insert(v) {
                            graph.add_edge(node, volume_nodes[v], Edge::ContainerVolume);
                        }
                    }
                }
            }
            model_containers.push(Container { rec, mount });
        }
        let mut stray_mounts: Vec<MountRec> = mounts_by_id.into_values().collect();
        stray_mounts.sort_by(|a, b| a.container_id.cmp(&b.container_id));

        let mut model = Model {
            graph,
            layout,
            images: model_images,
            tags: refs,
            layers,
            dirs,
            links,
            containers: model_containers,
            volumes,
            stray_mounts,
            stray_image_meta,
            removing,
            layerdb_tmp,
            download_tmp,
            buildkit_snapshots,
            containerd,
            problems,
            image_nodes,
            layer_nodes,
            dir_nodes,
            container_nodes,
            image_by_id,
            layer_by_chain,
            dir_by_id,
            layer_loadable,
            layer_images: Vec::new(),
            layer_parents,
            image_tops,
        };
        // Each image's stack walked once: the images on each layer, and sizes that
        // overflow.
        let mut layer_images = vec![Vec::new(); model.layers.len()];
        for i in 0..model.images.len() {
            let chain = model.image_layers(i);
            if model.images[i].loaded {
                for &l in &chain {
                    layer_images[l].push(i);
                }
            }
            if size::sum(chain.iter().map(|&l| model.layer_size(l))).is_none() {
                let files: Vec<String> = chain
                    .iter()
                    .map(|&l| format!("{}/size", model.layers[l].path))
                    .collect();
                model.problems.push(Problem::new(
                    model.images[i].rec.path.clone(),
                    ProblemKind::TooLarge,
                    format!(
                        "its layers' sizes add up beyond int64 (Docker's limit); shown capped at {}: {}",
                        size::MAX,
                        files.join(", ")
                    ),
                ));
            }
        }
        for v in &mut layer_images {
            v.sort_unstable_by(|&a, &b| model.images[a].rec.id.cmp(&model.images[b].rec.id));
        }
        model.layer_images = layer_images;
        model.problems.sort();
        model.problems.dedup();
        model
    }

    fn targets(&self, from: NodeIndex, kind: Edge) -> impl Iterator<Item = Node> + '_ {
        self.graph
            .edges_directed(from, Direction::Outgoing)
            .filter(move |e| *e.weight() == kind)
            .map(|e| self.graph[e.target()])
    }

    fn sources(&self, to: NodeIndex, kind: Edge) -> impl Iterator<Item = Node> + '_ {
        self.graph
            .edges_directed(to, Direction::Incoming)
            .filter(move |e| *e.weight() == kind)
            .map(|e| self.graph[e.source()])
    }

    pub fn image_index(&self, id: &ImageId) -> Option<usize> {
        self.image_by_id.get(id).copied()
    }

    pub fn layer_index(&self, chain: &ChainId) -> Option<usize> {
        self.layer_by_chain.get(chain).copied()
    }

    pub fn dir_index(&self, id: &str) -> Option<usize> {
        self.dir_by_id.get(id).copied()
    }

    /// The images Docker would load, in id order.
    pub fn loaded_images(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.images.len()).filter(|&i| self.images[i].loaded)
    }

    /// The layers of an image, base first, following the parents from its top layer.
    pub fn image_layers(&self, image: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut cur = self.image_tops[image];
        while let Some(l) = cur {
            if out.len() > self.layers.len() {
                break; // a parent cycle (tampered files): stop rather than loop
            }
            out.push(l);
            cur = self.layer_parents[l];
        }
        out.reverse();
        out
    }

    pub fn layer_parent(&self, layer: usize) -> Option<usize> {
        self.layer_parents[layer]
    }

    pub fn layer_dir(&self, layer: usize) -> Option<usize> {
        self.targets(self.layer_nodes[layer], Edge::LayerDir)
            .find_map(Node::dir)
    }

    pub fn layer_loadable(&self, layer: usize) -> bool {
        self.layer_loadable[layer]
    }

    /// The loaded images whose chain holds a layer, in id order.
    pub fn layer_images(&self, layer: usize) -> &[usize] {
        &self.layer_images[layer]
    }

    /// Docker's size of a layer: its `size` file (0 when unreadable, with a problem).
    pub fn layer_size(&self, layer: usize) -> u64 {
        self.layers[layer].size.unwrap_or(0)
    }

    /// Docker's `Size` of an image: the sum of its chain's `size` files, capped at the
    /// int64 maximum when it overflows (a problem names the image then).
    pub fn image_size(&self, image: usize) -> u64 {
        if let Some(f) = self
            .containerd
            .as_ref()
            .and_then(|c| c.image(&self.images[image].rec.id))
        {
            return f.size; // content + unpacked snapshots, as the daemon counts
        }
        size::sum_capped(self.image_layers(image).iter().map(|&l| self.layer_size(l)))
    }

    /// The tags and digests naming an image, sorted.
    pub fn image_refs(&self, image: usize) -> Vec<&RefRec> {
        let mut refs: Vec<&RefRec> = self
            .sources(self.image_nodes[image], Edge::TagImage)
            .filter_map(|n| match n {
                Node::Tag(t) => Some(&self.tags[t]),
                _ => None,
            })
            .collect();
        refs.sort();
        refs
    }

    /// The references of an image split into tags (`repo:tag`) and digests
    /// (`repo@sha256:…`), each sorted.
    pub fn tags_and_digests(&self, image: usize) -> (Vec<String>, Vec<String>) {
        let (digests, tags): (Vec<&RefRec>, Vec<&RefRec>) = self
            .image_refs(image)
            .into_iter()
            .partition(|r| r.is_digest);
        let names = |v: Vec<&RefRec>| v.into_iter().map(|r| r.reference.clone()).collect();
        (names(tags), names(digests))
    }

    /// The layers a container's RW layer sits on, top first (its mount's parent, then
    /// down to the base). Still there when the image was removed with `rmi -f`.
    pub fn container_layers(&self, container: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut layer = self
            .targets(self.container_nodes[container], Edge::ContainerLayer)
            .find_map(Node::layer);
        while let Some(l) = layer {
            if out.len() > self.layers.len() {
                break; // a parent cycle (tampered files)
            }
            out.push(l);
            layer = self.layer_parent(l);
        }
        out
    }

    pub fn image_parent(&self, image: usize) -> Option<usize> {
        self.targets(self.image_nodes[image], Edge::ImageParent)
            .find_map(Node::image)
    }

    /// Loaded images whose metadata names this one as parent.
    pub fn image_children(&self, image: usize) -> Vec<usize> {
        let mut out: Vec<usize> = self
            .sources(self.image_nodes[image], Edge::ImageParent)
            .filter_map(|n| match n {
                Node::Image(i) if self.images[i].loaded => Some(i),
                _ => None,
            })
            .collect();
        out.sort_unstable();
        out
    }

    /// No tag, no digest and no child: `<none>` in `docker images`.
    pub fn is_dangling(&self, image: usize) -> bool {
        self.image_refs(image).is_empty() && self.image_children(image).is_empty()
    }

    /// No tag or digest, but children: the classic builder's intermediate images.
    pub fn is_intermediate(&self, image: usize) -> bool {
        self.image_refs(image).is_empty() && !self.image_children(image).is_empty()
    }

    /// Containers created from an image.
    pub fn image_containers(&self, image: usize) -> Vec<usize> {
        let mut out: Vec<usize> = self
            .sources(self.image_nodes[image], Edge::ContainerImage)
            .filter_map(Node::container)
            .collect();
        out.sort_unstable();
        out
    }

    /// Containers whose RW layer sits on this layer.
    pub fn layer_containers(&self, layer: usize) -> Vec<usize> {
        let mut out: Vec<usize> = self
            .sources(self.layer_nodes[layer], Edge::ContainerLayer)
            .filter_map(Node::container)
            .collect();
        out.sort_unstable();
        out
    }

    pub fn container_image(&self, container: usize) -> Option<usize> {
        self.targets(self.container_nodes[container], Edge::ContainerImage)
            .find_map(Node::image)
    }

    /// The container's RW and init dirs.
    pub fn container_dirs(&self, container: usize) -> (Option<usize>, Option<usize>) {
        let node = self.container_nodes[container];
        let pick = |kind| self.targets(node, kind).find_map(Node::dir);
        (pick(Edge::RwDir), pick(Edge::InitDir))
    }

    /// The `l/` links that point at a dir.
    pub fn dir_links(&self, dir: usize) -> Vec<usize> {
        let mut out: Vec<usize> = self
            .sources(self.dir_nodes[dir], Edge::LinkDir)
            .filter_map(Node::link)
            .collect();
        out.sort_unstable();
        out
    }

    /// Loaded images with a tag or digest: what `docker images` lists besides dangling ones.
    pub fn tagged_count(&self) -> usize {
        self.loaded_images()
            .filter(|&i| !self.image_refs(i).is_empty())
            .count()
    }

    /// Steps of an image's history paired with its layers: for each layer (base first),
    /// the history entries that made it; empty-layer steps go under the layer they follow
    /// (steps before the first layer go with the first).
    pub fn layer_history(&self, image: usize) -> Vec<Vec<HistoryEntry>> {
        let rec = &self.images[image].rec;
        let n = rec.diff_ids.len();
        let mut out: Vec<Vec<HistoryEntry>> = vec![Vec::new(); n];
        if n == 0 {
            return out;
        }
        let mut next = 0usize; // index of the next layer to be produced
        for h in rec.history() {
            if h.empty_layer {
                out[next.saturating_sub(1).min(n - 1)].push(h);
            } else {
                out[next.min(n - 1)].push(h);
                next += 1;
            }
        }
        out
    }

    /// For `docker system df`: the images Docker counts ("heads" and tagged images).
    pub fn is_listed(&self, image: usize) -> bool {
        !self.image_refs(image).is_empty() || self.image_children(image).is_empty()
    }
}

/// A layer loads when its own files are complete and its parent loads.
fn loadable_layers(layers: &[LayerRec], parents: &[Option<usize>]) -> Vec<bool> {
    let mut state: Vec<Option<bool>> = vec![None; layers.len()];
    for start in 0..layers.len() {
        let mut path = Vec::new();
        let mut cur = start;
        let verdict = loop {
            if let Some(v) = state[cur] {
                break v;
            }
            if !layers[cur].complete || path.len() > layers.len() {
                break false;
            }
            path.push(cur);
            match (parents[cur], &layers[cur].parent) {
                (Some(p), _) => cur = p,
                (None, Some(_)) => break false, // parent named but absent
                (None, None) => {
                    state[cur] = Some(true);
                    path.pop();
                    break true;
                }
            }
        };
        for p in path {
            state[p] = Some(verdict);
        }
        state[start].get_or_insert(verdict);
    }
    state.into_iter().map(|s| s.unwrap_or(false)).collect()
}
