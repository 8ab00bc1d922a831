// The demo page's script: opens a device (WebGPU, else the CPU backend with a visible note), runs the
// kernel self-test on demand, and runs a small GM-NAS search with live progress, each split's GM
// heatmap, the partition tree and the final genotype. Everything comes from the browser bundle.
// URL parameters: ?backend=auto|webgpu|cpu  ?preset=tiny|quick  ?seed=N  ?autorun=1
import * as gmnas from '../dist/gmnas.browser.js';

const {
  openDevice, runSelftest, CpuBackend, formatAdapterReport, searchInPage, pageSearchConfig,
  gmHeatmapSvg, partitionTreeSvg, genotypeHtml, splitMatrixLabels, candidateMatrixLabels, edgeLabel, escapeXml,
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
  $('run').disabled = busy;
  $('selftest').disabled = busy;
  $('preset').disabled = busy;
  $('seed').disabled = busy;
}

// ---- device -----------------------------------------------------------------------------------------

/** @type {Awaited<ReturnType<typeof openDevice>> | null} */
let device = null;

async function initDevice() {
  const kind = params.get('backend') ?? 'auto';
  device = await openDevice({ kind: /** @type {'auto'|'webgpu'|'cpu'} */ (kind) });
  $('adapter').textContent = device.name;
  body.dataset.backend = device.backend.kind;
  if (device.note) {
    const note = $('fallback-note');
    note.hidden = false;
    note.textContent = `No WebGPU here — running on the CPU backend. ${device.note}`;
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
  if (device.backend.kind !== 'webgpu') {
    summary.textContent = 'skipped: there is no WebGPU device to check against the CPU reference.';
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
  let total = 0;
  for (let d = 0; d <= levels; d++) total += config.branches ** d * (to(d) - from(d));
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

async function runDemo(opts = {}) {
  if (!device) throw new Error('no device yet');
  if (running) throw new Error('a search is already running');
  running = true;
  setBusy(true);
  $('error').hidden = true;
  body.dataset.state = 'running';
  const preset = opts.preset ?? /** @type {HTMLSelectElement} */ ($('preset')).value;
  const seed = opts.seed ?? Number(/** @type {HTMLInputElement} */ ($('seed')).value || 0);
  const config = pageSearchConfig({ preset, seed });
  const plan = epochPlan(config);
  const bar = /** @type {HTMLProgressElement} */ ($('progress-bar'));
  const status = $('status');
  const splitsEl = $('splits');
  const treeEl = $('tree');
  const finalEl = $('final');
  splitsEl.innerHTML = '<span class="empty">no split yet</span>';
  treeEl.innerHTML = '<span class="empty">starting…</span>';
  finalEl.innerHTML = '<span class="empty">not finished</span>';
  $('log').textContent = '';
  bar.value = 0;
  let shownSplits = 0;
  let last = null;
  const t0 = performance.now();
  const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
  log(`GM-NAS (${config.base}, preset ${preset}, seed ${seed}) on ${device.name}: C=${config.channels} N=${config.cells}, ` +
    `${config.syntheticSize} synthetic images ÷${config.downsample}, splits at epochs ${config.splitEpochs.join(', ')}, ${config.totalEpochs} epochs`);
  try {
    const result = await searchInPage({
      backend: device.backend, deviceName: device.name, preset, seed,
      onLog: log,
      onProgress: (e) => {
        const extra = e.loss !== undefined ? ` · loss ${e.loss.toFixed(3)}` : '';
        const acc = e.accuracy !== undefined ? ` · acc ${e.accuracy.toFixed(1)} %` : '';
        status.textContent = `${e.phase} · node ${e.node} · ${e.label} · ${e.done}/${e.total}${extra}${acc} · ${elapsed()}`;
      },
      onState: (s) => {
        last = s;
        const depth = new Map(s.tree.nodes.map((n) => [n.id, n.depth]));
        let done = 0;
        for (const [id, ep] of Object.entries(s.epochsDone)) done += Math.max(0, ep - plan.from(depth.get(Number(id)) ?? 0));
        bar.value = plan.total ? Math.min(1, done / plan.total) : 0;
        if (s.splits.length > shownSplits) {
          if (shownSplits === 0) splitsEl.innerHTML = '';
          for (let i = shownSplits; i < s.splits.length; i++) splitsEl.append(renderSplit(s.splits[i], i));
          shownSplits = s.splits.length;
        }
        treeEl.innerHTML = partitionTreeSvg({ tree: s.tree, splits: s.splits, leaves: s.leaves, epochsDone: s.epochsDone });
      },
    });
    bar.value = 1;
    treeEl.innerHTML = partitionTreeSvg({
      tree: result.tree, splits: result.splits, leaves: result.leaves, finalNode: result.final.node,
      epochsDone: last ? last.epochsDone : {},
    });
    const rows = result.leaves.map((l) => `<tr${l.node === result.final.node ? ' style="font-weight:600"' : ''}><td>${l.node}</td>` +
      `<td><code>${escapeXml(l.genotype)}</code></td><td>${l.val.accuracy.toFixed(2)} %</td><td>${l.val.loss.toFixed(4)}</td></tr>`).join('');
    finalEl.innerHTML = `<p>Selected by ${escapeXml(result.final.selectedBy)}: leaf ${result.final.node}</p>` +
      `<p><code id="genotype" data-genotype="${escapeXml(result.final.genotype)}">${escapeXml(result.final.genotype)}</code></p>` +
      genotypeHtml(result.final.genotype) +
      `<table class="selftest"><thead><tr><th>leaf</th><th>genotype</th><th>val acc</th><th>val loss</th></tr></thead><tbody>${rows}</tbody></table>`;
    status.textContent = `done in ${elapsed()} on ${device.name}`;
    log(`final: ${result.final.genotype} (leaf ${result.final.node}, ${elapsed()})`);
    body.dataset.state = 'done';
    return result;
  } catch (e) {
    body.dataset.state = 'error';
    status.textContent = `failed after ${elapsed()}`;
    showError(e);
    throw e;
  } finally {
    running = false;
    setBusy(false);
  }
}

// ---- wiring -----------------------------------------------------------------------------------------

$('run').addEventListener('click', () => { runDemo().catch(() => {}); });
$('selftest').addEventListener('click', () => { runSelftestNow().catch(showError); });
if (params.get('preset')) /** @type {HTMLSelectElement} */ ($('preset')).value = params.get('preset');
if (params.get('seed')) /** @type {HTMLInputElement} */ ($('seed')).value = params.get('seed');

// for scripts and tests driving the page
window.gmnasDemo = { lib: gmnas, get device() { return device; }, runDemo, runSelftest: runSelftestNow };

try {
  await initDevice();
  setBusy(false);
  body.dataset.state = 'ready';
  if (params.get('autorun') === '1') await runDemo().catch(() => {});
} catch (e) {
  body.dataset.state = 'error';
  $('adapter').textContent = 'no device';
  showError(e);
}
