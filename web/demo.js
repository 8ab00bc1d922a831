// The demo page's script. The page loads the embedded Fashion-MNIST subset (fetch + DecompressionStream,
// checked against SHA256SUMS) or the user's IDX / CIFAR files, and runs a GM-NAS search through
// startSearch: the search trains in a Web Worker with its own device, the page draws what it reports
// (progress, each split's GM heatmap, the partition tree, the best lineage's training curve, the
// leaves' validation scores, the final genotype) and offers result.json and the final leaf's
// checkpoint for download. The page's own device (WebGPU, else the CPU backend with a visible note)
// names the adapter and runs the kernel self-test on demand. Everything comes from the browser bundle.
// URL parameters: ?backend=auto|webgpu|wasm|cpu  ?preset=browser-quick|browser-tiny|tiny|quick  ?seed=N  ?autorun=1
import * as gmnas from '../dist/gmnas.browser.js';

const {
  openDevice, runSelftest, CpuBackend, formatAdapterReport, startSearch, StopRequested,
  loadEmbeddedFashionMnist, datasetFromFiles, readPickedFiles,
  gmHeatmapSvg, partitionTreeSvg, genotypeHtml, splitMatrixLabels, candidateMatrixLabels, edgeLabel, escapeXml,
  curveSvg, lineageCurve, leafScoresSvg,
} = gmnas;

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const params = new URLSearchParams(location.search);
const body = document.body;

function showError(e) {
  const el = $('error');
  el.hidden = false;
  el.textContent = `Error: ${e && e.stack ? e.stack : String(e)}`;
  console.error(e);
}

function log(line) {
  const el = $('log');
  el.textContent += `${line}\n`;
  el.scrollTop = el.scrollHeight;
}

function setBusy(busy) {
  $('run').disabled = busy || !dataset;
  $('selftest').disabled = busy;
  $('preset').disabled = busy;
  $('seed').disabled = busy;
  /** @type {HTMLInputElement} */ ($('file-picker')).disabled = busy;
  $('stop').disabled = !busy || !currentRun;
}

// ---- main-thread heartbeat: a timer that keeps ticking while the worker trains --------------------------

const heartbeat = { ticks: 0, maxGapMs: 0, last: performance.now() };
setInterval(() => {
  const now = performance.now();
  heartbeat.maxGapMs = Math.max(heartbeat.maxGapMs, now - heartbeat.last);
  heartbeat.last = now;
  heartbeat.ticks++;
  if (heartbeat.ticks % 10 === 0) $('heartbeat').textContent = `page timer: ${heartbeat.ticks} ticks, longest gap ${Math.round(heartbeat.maxGapMs)} ms`;
}, 100);

// ---- data -------------------------------------------------------------------------------------------

/** @type {import('../dist/gmnas.browser.js').Dataset | null} */
let dataset = null;

function showDataset(ds, origin) {
  dataset = ds;
  const el = $('data');
  el.dataset.ready = 'true';
  el.dataset.name = ds.name;
  el.dataset.size = String(ds.size);
  $('data-status').textContent = `${origin}: ${ds.size.toLocaleString('en')} ${ds.name} training images, ` +
    `${ds.channels}×${ds.height}×${ds.width}, ${ds.numClasses} classes.`;
  /** @type {HTMLProgressElement} */ ($('data-bar')).value = 1;
  setBusy(running);
}

function showDataError(e) {
  const el = $('data-error');
  el.hidden = false;
  el.textContent = e && e.message ? e.message : String(e);
  $('data').dataset.error = 'true';
}

async function loadEmbedded() {
  const bar = /** @type {HTMLProgressElement} */ ($('data-bar'));
  const status = $('data-status');
  $('data-error').hidden = true;
  delete $('data').dataset.error;
  const t0 = performance.now();
  const ds = await loadEmbeddedFashionMnist({
    onProgress: (p) => {
      if (p.stage === 'download') {
        if (p.total) bar.value = p.loaded / p.total; else bar.removeAttribute('value');
        status.textContent = `downloading Fashion-MNIST: ${(p.loaded / 1e6).toFixed(1)}${p.total ? ` / ${(p.total / 1e6).toFixed(1)}` : ''} MB`;
      } else if (p.stage !== 'done') {
        status.textContent = `Fashion-MNIST: ${p.stage === 'verify' ? 'checking SHA-256 sums' : p.stage === 'decompress' ? 'decompressing' : 'parsing'}…`;
      }
    },
  });
  showDataset(ds, `embedded Fashion-MNIST subset (loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  $('use-embedded').hidden = true;
  /** @type {HTMLInputElement} */ ($('file-picker')).value = '';
  return ds;
}

async function useFiles(files) {
  $('data-error').hidden = true;
  delete $('data').dataset.error;
  $('data-status').textContent = `reading ${files.length} file(s)…`;
  try {
    const { dataset: ds, format } = await datasetFromFiles(await readPickedFiles(files));
    showDataset(ds, `your files (${format}: ${[...files].map((f) => f.name).join(', ')})`);
    $('use-embedded').hidden = false;
  } catch (e) {
    showDataError(e);
    $('data-status').textContent = dataset ? `still using: ${dataset.size} ${dataset.name} images` : 'no dataset';
  }
}

// ---- device -----------------------------------------------------------------------------------------

/** @type {Awaited<ReturnType<typeof openDevice>> | null} */
let device = null;

async function initDevice() {
  const kind = params.get('backend') ?? 'auto';
  device = await openDevice({ kind: /** @type {'auto'|'webgpu'|'wasm'|'cpu'} */ (kind) });
  $('adapter').textContent = device.name;
  body.dataset.backend = device.backend.kind;
  if (device.note) {
    const note = $('fallback-note');
    note.hidden = false;
    const on = device.backend.kind === 'wasm' ? 'the wasm backend (Wasm SIMD on the CPU)' : 'the CPU backend';
    note.textContent = `No WebGPU here — running on ${on}. ${device.note}`;
  }
  if (device.adapter) {
    $('adapter-details').hidden = false;
    $('adapter-report').textContent = formatAdapterReport(device.adapter).join('\n');
  }
  $('adapter').dataset.ready = 'true';
}

// ---- self-test --------------------------------------------------------------------------------------

async function runSelftestNow() {
  if (!device) throw new Error('no device yet');
  const summary = $('selftest-summary');
  const out = $('selftest-result');
  summary.className = '';
  delete summary.dataset.status;
  out.innerHTML = '';
  if (device.backend.kind === 'cpu') {
    summary.textContent = 'skipped: there is no WebGPU or wasm device to check against the CPU reference.';
    summary.dataset.status = 'skipped';
    return null;
  }
  setBusy(true);
  body.dataset.state = 'selftest';
  const t0 = performance.now();
  summary.textContent = 'running…';
  const table = document.createElement('table');
  table.className = 'selftest';
  table.innerHTML = '<thead><tr><th>case</th><th>phase</th><th>shape</th><th>max |Δ|</th><th>max rel</th><th>ms</th><th></th></tr></thead><tbody></tbody>';
  out.append(table);
  const tbody = table.tBodies[0];
  try {
    const cpu = new CpuBackend();
    const report = await runSelftest(device.backend, cpu, {
      quick: true,
      onRow: (r) => {
        const tr = document.createElement('tr');
        tr.innerHTML = `<td>${escapeXml(r.name)}</td><td>${r.phase}</td><td>${escapeXml(r.shape)}</td>` +
          `<td>${r.maxAbs.toExponential(1)}</td><td>${r.maxRel.toExponential(1)}</td><td>${r.ms ? r.ms.toFixed(1) : ''}</td>` +
          `<td class="${r.pass ? 'pass' : 'fail'}">${r.pass ? 'pass' : 'FAIL'}</td>`;
        tbody.append(tr);
        summary.textContent = `running… ${tbody.rows.length} checks`;
      },
    });
    cpu.dispose();
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    const step = report.step ? ` Supernet training step: ${report.step.pass ? 'pass' : 'FAIL'}.` : '';
    const ok = report.failed.length === 0;
    summary.textContent = ok
      ? `all ${report.rows.length} kernel checks passed on ${device.name}.${step} (${secs} s)`
      : `${report.failed.length} check(s) failed: ${report.failed.join('; ')}; suspect kernels: ${report.failedKernels.join(', ')}.${step} (${secs} s)`;
    summary.dataset.status = ok ? 'pass' : 'fail';
    summary.dataset.passed = String(report.passed);
    summary.dataset.total = String(report.rows.length);
    log(`self-test: ${report.passed}/${report.rows.length} kernel checks passed${step} (${secs} s)`);
    return report;
  } catch (e) {
    summary.textContent = `self-test error: ${e.message}`;
    summary.dataset.status = 'error';
    throw e;
  } finally {
    body.dataset.state = 'ready';
    setBusy(false);
  }
}

// ---- search -----------------------------------------------------------------------------------------

/** Planned epochs over the whole tree and the epochs a node at `depth` starts from. */
function epochPlan(config) {
  const levels = config.splitEpochs.length;
  const from = (d) => (d === 0 ? 0 : d === levels && config.restart ? config.splitEpochs[levels - 1] : config.splitEpochs[d - 1]);
  const to = (d) => (d === levels ? config.totalEpochs : config.splitEpochs[d]);
  // nodes at depth d: the product of the first d levels' branching (a count, or one per level)
  const nodes = (d) => (Array.isArray(config.branches) ? config.branches.slice(0, d).reduce((a, b) => a * b, 1) : config.branches ** d);
  let total = 0;
  for (let d = 0; d <= levels; d++) total += nodes(d) * (to(d) - from(d));
  return { total, from };
}

function renderSplit(split, index) {
  const fig = document.createElement('figure');
  fig.className = 'split';
  fig.dataset.node = String(split.node);
  const groups = split.groups.map((g) => `{${g.join(', ')}}`).join(' | ');
  if (split.distance) {
    fig.innerHTML = gmHeatmapSvg(split.distance, splitMatrixLabels(split), {
      title: `split ${index + 1}: node ${split.node}, edge ${edgeLabel(split.edge)}`, groups: split.groups,
    });
  } else {
    fig.innerHTML = `<div><strong>split ${index + 1}: node ${split.node}, edge ${escapeXml(edgeLabel(split.edge))}</strong><br>` +
      `<span class="empty">${escapeXml(split.criterion)} split: no gradient-matching matrix</span></div>`;
  }
  const cap = document.createElement('figcaption');
  cap.textContent = `children ${split.children.join(', ')}: ${groups}` +
    (split.cutScore !== null && split.cutScore !== undefined ? `; cut distance ${split.cutScore.toFixed(4)}` : '');
  fig.append(cap);
  if (split.candidates && split.candidates.length > 1) {
    const det = document.createElement('details');
    det.innerHTML = `<summary>all ${split.candidates.length} candidate edges</summary>`;
    const box = document.createElement('div');
    box.className = 'candidates';
    for (const c of split.candidates) {
      box.insertAdjacentHTML('beforeend', gmHeatmapSvg(c.distance, candidateMatrixLabels(c.groups), {
        title: `${edgeLabel(c.edge)} cut ${c.cutScore.toFixed(3)}${c.edge === split.edge ? ' ✓' : ''}`, groups: c.groups, cell: 22,
      }));
    }
    det.append(box);
    fig.append(det);
  }
  return fig;
}

let running = false;
/** @type {ReturnType<typeof startSearch> | null} */
let currentRun = null;
/** what the download buttons save */
let artifacts = null;

function download(name, bytes, type) {
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A leaf's score as the config's selector sees it: its supernet's validation accuracy
 *  ('supernet-val-acc', the browser presets) or the derived single path's. */
function leafScore(l, config) {
  return config.select === 'supernet-val-acc' && l.supernetVal ? l.supernetVal.accuracy : l.val.accuracy;
}

const treeScore = (config) => (config.select === 'supernet-val-acc' ? 'supernet' : 'path');

/** The leaf with the best score so far (the final pick once there is one). */
function leaderOf(leaves, config, finalNode) {
  if (finalNode !== undefined && finalNode !== null) return finalNode;
  let best = null;
  for (const l of leaves) if (!best || leafScore(l, config) > leafScore(best, config)) best = l;
  return best ? best.node : null;
}

function drawLive(s, config, finalNode) {
  const parent = new Map(s.tree.nodes.map((n) => [n.id, n.parent]));
  const parentOf = (id) => parent.get(id) ?? null;
  const leafIds = s.tree.nodes.filter((n) => n.children.length === 0).map((n) => n.id);
  const leader = leaderOf(s.leaves, config, finalNode);
  // before any leaf finishes, follow the deepest node that trained most recently
  const focus = leader ?? [...s.tree.nodes].sort((a, b) => b.depth - a.depth || (s.epochsDone[b.id] ?? 0) - (s.epochsDone[a.id] ?? 0))[0]?.id ?? 0;
  const series = leafIds.filter((id) => id !== focus).map((id) => ({ label: `leaf ${id}`, points: lineageCurve(id, parentOf, s.history) }));
  series.push({ label: `node ${focus}${finalNode === focus ? ' (final pick)' : ''}`, points: lineageCurve(focus, parentOf, s.history), highlight: true });
  const chance = 100 / (dataset ? dataset.numClasses : 10);
  $('curve').innerHTML = curveSvg(series, {
    title: `training accuracy (%), lineage of ${leader !== null ? `leaf ${focus}` : `node ${focus}`}`,
    epochs: config.totalEpochs, reference: { value: chance, label: `chance ${chance.toFixed(0)} %` },
  });
  if (s.leaves.length) {
    const bySupernet = config.select === 'supernet-val-acc';
    $('leaf-scores').innerHTML = leafScoresSvg(
      s.leaves.map((l) => ({
        node: l.node, genotype: l.genotype, accuracy: leafScore(l, config),
        ...(bySupernet ? { secondary: l.val.accuracy } : l.supernetVal ? { secondary: l.supernetVal.accuracy } : {}),
      })),
      {
        chance, finalNode: finalNode ?? null, title: 'leaves: validation accuracy (%)',
        legend: bySupernet ? ['leaf supernet (selects)', 'derived path alone'] : ['derived path (selects)', 'leaf supernet'],
      },
    );
  }
}

async function runDemo(opts = {}) {
  if (running) throw new Error('a search is already running');
  if (!dataset) throw new Error('no dataset loaded yet');
  running = true;
  $('error').hidden = true;
  body.dataset.state = 'running';
  const preset = opts.preset ?? /** @type {HTMLSelectElement} */ ($('preset')).value;
  const seed = opts.seed ?? Number(/** @type {HTMLInputElement} */ ($('seed')).value || 0);
  const backend = params.get('backend') ?? 'auto';
  const bar = /** @type {HTMLProgressElement} */ ($('progress-bar'));
  const status = $('status');
  const splitsEl = $('splits');
  const treeEl = $('tree');
  const finalEl = $('final');
  splitsEl.innerHTML = '<span class="empty">no split yet</span>';
  treeEl.innerHTML = '<span class="empty">starting…</span>';
  finalEl.innerHTML = '<span class="empty">not finished</span>';
  $('curve').innerHTML = '<span class="empty">no epoch yet</span>';
  $('leaf-scores').innerHTML = '<span class="empty">no leaf finished yet</span>';
  $('download-result').disabled = true;
  $('download-checkpoint').disabled = true;
  artifacts = null;
  $('log').textContent = '';
  bar.value = 0;
  let shownSplits = 0;
  let last = null;
  const t0 = performance.now();
  const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
  let deviceName = 'the worker';
  try {
    const run = startSearch({
      dataset, preset, seed, device: /** @type {'auto'|'webgpu'|'wasm'|'cpu'} */ (backend), ...(opts.config ? { config: opts.config } : {}),
      onDevice: (d) => {
        deviceName = d.name;
        log(`worker device: ${d.name}${d.note ? ` (${d.note})` : ''}`);
      },
      onLog: log,
      onProgress: (e) => {
        const extra = e.loss !== undefined ? ` · loss ${e.loss.toFixed(3)}` : '';
        const acc = e.accuracy !== undefined ? ` · acc ${e.accuracy.toFixed(1)} %` : '';
        status.textContent = `${e.phase} · node ${e.node} · ${e.label} · ${e.done}/${e.total}${extra}${acc} · ${elapsed()}`;
      },
      onState: (s) => {
        last = s;
        const plan = epochPlan(run.config);
        const depth = new Map(s.tree.nodes.map((n) => [n.id, n.depth]));
        let done = 0;
        for (const [id, ep] of Object.entries(s.epochsDone)) done += Math.max(0, ep - plan.from(depth.get(Number(id)) ?? 0));
        bar.value = plan.total ? Math.min(1, done / plan.total) : 0;
        if (s.splits.length > shownSplits) {
          if (shownSplits === 0) splitsEl.innerHTML = '';
          for (let i = shownSplits; i < s.splits.length; i++) splitsEl.append(renderSplit(s.splits[i], i));
          shownSplits = s.splits.length;
        }
        treeEl.innerHTML = partitionTreeSvg({ tree: s.tree, splits: s.splits, leaves: s.leaves, epochsDone: s.epochsDone, leafScore: treeScore(run.config) });
        drawLive(s, run.config, null);
      },
    });
    currentRun = run;
    setBusy(true);
    const c = run.config;
    log(`GM-NAS (${c.base}, preset ${preset}, seed ${seed}) in a Web Worker on ${dataset.size} ${dataset.name} images: C=${c.channels} N=${c.cells}, ` +
      `batch ${c.batchSize}, ÷${c.downsample}, splits at epochs ${c.splitEpochs.join(', ')}, ${c.totalEpochs} epochs`);
    const result = await run.result;
    artifacts = await run.artifacts;
    bar.value = 1;
    treeEl.innerHTML = partitionTreeSvg({
      tree: result.tree, splits: result.splits, leaves: result.leaves, finalNode: result.final.node,
      epochsDone: last ? last.epochsDone : {}, leafScore: treeScore(c),
    });
    if (last) drawLive({ ...last, leaves: result.leaves }, c, result.final.node);
    const rows = result.leaves.map((l) => `<tr${l.node === result.final.node ? ' style="font-weight:600"' : ''}><td>${l.node}</td>` +
      `<td><code>${escapeXml(l.genotype)}</code></td><td>${l.supernetVal ? `${l.supernetVal.accuracy.toFixed(2)} %` : '—'}</td>` +
      `<td>${l.val.accuracy.toFixed(2)} %</td><td>${l.val.loss.toFixed(4)}</td></tr>`).join('');
    finalEl.innerHTML = `<p>Selected by ${escapeXml(result.final.selectedBy)}: leaf ${result.final.node}</p>` +
      `<p><code id="genotype" data-genotype="${escapeXml(result.final.genotype)}">${escapeXml(result.final.genotype)}</code></p>` +
      genotypeHtml(result.final.genotype) +
      `<table class="selftest"><thead><tr><th>leaf</th><th>genotype</th><th>supernet val acc</th><th>path val acc</th><th>path val loss</th></tr></thead><tbody>${rows}</tbody></table>`;
    $('download-result').disabled = false;
    $('download-checkpoint').disabled = false;
    status.textContent = `done in ${elapsed()} on ${deviceName} (worker)`;
    log(`final: ${result.final.genotype} (leaf ${result.final.node}, ${elapsed()})`);
    body.dataset.state = 'done';
    return result;
  } catch (e) {
    if (e instanceof StopRequested) {
      body.dataset.state = 'stopped';
      status.textContent = `stopped after ${elapsed()}`;
      log(`stopped: ${e.message}`);
      return null;
    }
    body.dataset.state = 'error';
    status.textContent = `failed after ${elapsed()}`;
    showError(e);
    throw e;
  } finally {
    running = false;
    currentRun = null;
    setBusy(false);
  }
}

// ---- wiring -----------------------------------------------------------------------------------------

$('run').addEventListener('click', () => { runDemo().catch(() => {}); });
$('stop').addEventListener('click', () => {
  if (!currentRun) return;
  $('stop').disabled = true;
  $('status').textContent = 'stopping…';
  currentRun.stop().catch(showError);
});
$('selftest').addEventListener('click', () => { runSelftestNow().catch(showError); });
$('file-picker').addEventListener('change', (ev) => {
  const files = /** @type {HTMLInputElement} */ (ev.target).files;
  if (files && files.length) useFiles(files).catch(showDataError);
});
$('use-embedded').addEventListener('click', () => { loadEmbedded().catch(showDataError); });
$('download-result').addEventListener('click', () => {
  if (artifacts) download('result.json', artifacts.resultJson, 'application/json');
});
$('download-checkpoint').addEventListener('click', () => {
  if (artifacts) download(artifacts.checkpointName, artifacts.checkpoint, 'application/octet-stream');
});
if (params.get('preset')) /** @type {HTMLSelectElement} */ ($('preset')).value = params.get('preset');
if (params.get('seed')) /** @type {HTMLInputElement} */ ($('seed')).value = params.get('seed');

// for scripts and tests driving the page
window.gmnasDemo = {
  lib: gmnas, get device() { return device; }, get dataset() { return dataset; }, heartbeat,
  runDemo, runSelftest: runSelftestNow, stop: () => currentRun?.stop(),
};

const dataReady = loadEmbedded().catch((e) => { showDataError(e); $('data-status').textContent = 'the embedded data could not be loaded'; });
try {
  await initDevice();
  setBusy(false);
  body.dataset.state = 'ready';
  await dataReady;
  if (params.get('autorun') === '1') await runDemo().catch(() => {});
} catch (e) {
  body.dataset.state = 'error';
  $('adapter').textContent = 'no device';
  showError(e);
}
