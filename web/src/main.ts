import type { Backend } from '../../engine/index.ts';
import type { BackendChoice } from '../../engine/backends/select.ts';
import type { ClaraModel } from '../../clara/claraModel.ts';
import type { Stage3Row } from '../../clara/data/stage3Data.ts';
import { demoChart } from '../../clara/demo/demoReport.ts';
import { QUICK_DEMO } from '../../clara/demo/demoSettings.ts';
import type { StepMetrics } from '../../clara/train/metricsLog.ts';
import { barChart } from './barChart.ts';
import { drawHeatmap } from './heatmap.ts';
import { choosePageBackend, describeBrowserAdapter } from './pageBackend.ts';
import { questionLabel, traceQuestion } from './questionExplorer.ts';
import { QUICK_STEPS, runQuickDemo } from './quickDemoRun.ts';
import { type FolderFile, openRunFolder } from './runFolder.ts';

/**
 * The page: wires the three sections of index.html to the library. The query string can preset the
 * training form and start it (`?backend=cpu&seed=0&stopAfter=3&autorun=1`), which is how the
 * browser test (test/web/) drives it; `document.body.dataset.state` says where the page is.
 */
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const state = (value: string) => {
  document.body.dataset.state = value;
};

/** The model the explorer looks at, and the questions it offers. */
let explored: { clara: ClaraModel; questions: Stage3Row[] } | null = null;
let backendInUse: Backend | null = null;
let stopRequested = false;

function setExplored(clara: ClaraModel, questions: Stage3Row[], from: string): void {
  explored = { clara, questions };
  const select = $<HTMLSelectElement>('question');
  select.replaceChildren(...questions.map((row, i) => new Option(questionLabel(row), String(i))));
  select.disabled = false;
  $<HTMLButtonElement>('explore-button').disabled = false;
  $('explore-model').textContent = `Exploring ${from}: held-out questions, ${questions[0]?.docs.length ?? 0} candidates each.`;
}

async function train(event: Event): Promise<void> {
  event.preventDefault();
  const choice = $<HTMLSelectElement>('backend').value as BackendChoice;
  const seed = Number($<HTMLInputElement>('seed').value);
  const stopAfter = Number($<HTMLInputElement>('stop-after').value);
  const trainButton = $<HTMLButtonElement>('train-button');
  const stopButton = $<HTMLButtonElement>('stop-button');
  trainButton.disabled = true;
  stopButton.disabled = false;
  stopRequested = false;
  state('training');
  const progress = $<HTMLProgressElement>('progress');
  const progressText = $('progress-text');
  const adapter = $('adapter');
  try {
    const chosen = await choosePageBackend(choice);
    backendInUse = chosen.backend;
    adapter.textContent = chosen.summary;
    adapter.classList.toggle('fallback', chosen.cpuFallback);
    adapter.dataset.backend = chosen.backend.name;
    const losses: number[] = [];
    const curves = { stage1: [] as StepMetrics[], stage3: [] as StepMetrics[] };
    // The quick demo's settings label the chart: its MSE weight, its holds and chance among its candidates.
    const chart = (stage1: readonly StepMetrics[], stage3: readonly StepMetrics[], recallCurve: ReadonlyArray<readonly [number, number]>) =>
      demoChart({
        stage1,
        stage3,
        recallCurve,
        mseWeight: QUICK_DEMO.stage1.mseWeight,
        holds: { compressor: QUICK_DEMO.stage1.compressorFrozenSteps, queryReasoner: QUICK_DEMO.stage3.queryReasonerFrozenSteps },
        baselines: { chance: 1 / QUICK_DEMO.candidates },
      });
    const run = await runQuickDemo({
      backend: chosen.backend,
      seed,
      stopAfter,
      shouldStop: () => stopRequested,
      onPhase: (line) => {
        progressText.textContent = line;
      },
      onStep: ({ stage, metrics, done, total }) => {
        (stage === 1 ? curves.stage1 : curves.stage3).push(metrics);
        if (stage === 1) losses.push(metrics.loss);
        progress.value = done / total;
        progressText.textContent = `stage ${stage}, step ${metrics.step}: loss ${metrics.loss.toFixed(4)} (${metrics.seconds.toFixed(2)} s)`;
        $('curves').innerHTML = chart(curves.stage1, curves.stage3, []);
        // Full precision (shortest round-trip), so that the test compares them exactly.
        $('trajectory').textContent = JSON.stringify(losses);
      },
    });
    $('curves').innerHTML = chart(run.stage1, run.stage3, run.recall);
    progressText.textContent = `${run.stopped ? 'stopped' : 'done'} after ${run.stage1.length + run.stage3.length} of ${QUICK_STEPS} steps on ${chosen.backend.name}`;
    setExplored(run.clara, run.corpus.stage3HeldOut, `the model trained here (seed ${seed})`);
    state('trained');
  } catch (error) {
    progressText.textContent = `failed: ${(error as Error).message}`;
    state('failed');
    throw error;
  } finally {
    trainButton.disabled = false;
    stopButton.disabled = true;
  }
}

async function explore(event: Event): Promise<void> {
  event.preventDefault();
  if (explored === null) return;
  const row = explored.questions[Number($<HTMLSelectElement>('question').value)]!;
  const button = $<HTMLButtonElement>('explore-button');
  button.disabled = true;
  state('exploring');
  try {
    const trace = await traceQuestion(explored.clara, row, { estimator: $<HTMLSelectElement>('estimator').value, temperature: temperature() });
    const [n, d] = trace.shape;
    drawHeatmap($('memory-heatmap'), trace.memory, n, d);
    drawHeatmap($('query-heatmap'), trace.query, n, d);
    const relevant = row.posIndex;
    $('scores-chart').innerHTML = barChart({
      values: trace.scores,
      highlight: relevant,
      outlined: trace.chosen,
      dots: trace.soft,
      label: `s (green: relevant, red: chosen), dots: P; answer loss ${trace.loss.toFixed(3)}`,
    });
    $('gradient-chart').innerHTML = barChart({
      values: trace.gradient,
      highlight: relevant,
      outlined: trace.chosen,
      label: 'dL/ds (a step of gradient descent moves s against it)',
    });
    const answer = $('answer-tokens');
    answer.replaceChildren();
    // One token at a time, in the order the generator produced them.
    for (const token of trace.answerTokens) {
      const chip = document.createElement('span');
      chip.textContent = token;
      answer.append(chip);
      await new Promise((resolve) => setTimeout(resolve, 120));
    }
    answer.append(` → "${trace.answer}" (reference: "${row.answer}")`);
    state('explored');
  } catch (error) {
    $('answer-tokens').textContent = `failed: ${(error as Error).message}`;
    state('failed');
    throw error;
  } finally {
    button.disabled = false;
  }
}

function temperature(): number {
  return Number((10 ** Number($<HTMLInputElement>('temperature').value)).toPrecision(2));
}

async function openFolder(files: readonly File[]): Promise<void> {
  const status = $('run-status');
  status.textContent = `reading ${files.length} files…`;
  try {
    const read: FolderFile[] = await Promise.all(
      files.map(async (file) => ({ path: file.webkitRelativePath || file.name, bytes: new Uint8Array(await file.arrayBuffer()) })),
    );
    const backend = backendInUse ?? (await choosePageBackend('cpu')).backend;
    const run = openRunFolder(read, backend);
    $('run-curves').innerHTML = run.chart;
    status.textContent = `${run.name}: ${run.summary || 'no summary'}${run.clara ? '' : ' (no checkpoint in the folder)'}`;
    if (run.clara) setExplored(run.clara, run.questions, `the model of ${run.name}`);
  } catch (error) {
    status.textContent = `could not open the folder: ${(error as Error).message}`;
  }
}

/** Every file under a dropped folder, with its path (the drop event gives entries, not files). */
async function droppedFiles(items: DataTransferItemList): Promise<File[]> {
  const files: File[] = [];
  const walk = async (entry: FileSystemEntry, path: string): Promise<void> => {
    if (entry.isFile) {
      const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
      files.push(new File([file], `${path}${entry.name}`));
      Object.defineProperty(files[files.length - 1], 'webkitRelativePath', { value: `${path}${entry.name}` });
    } else if (entry.isDirectory) {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      const entries = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
      for (const child of entries) await walk(child, `${path}${entry.name}/`);
    }
  };
  for (const item of [...items]) {
    const entry = item.webkitGetAsEntry();
    if (entry) await walk(entry, '');
  }
  return files;
}

function wire(): void {
  $('train-form').addEventListener('submit', (e) => void train(e).catch(console.error));
  $('stop-button').addEventListener('click', () => {
    stopRequested = true;
  });
  $('explore-form').addEventListener('submit', (e) => void explore(e).catch(console.error));
  const slider = $<HTMLInputElement>('temperature');
  slider.addEventListener('input', () => {
    $('temperature-value').textContent = String(temperature());
  });
  $<HTMLInputElement>('folder').addEventListener('change', (e) => void openFolder([...((e.target as HTMLInputElement).files ?? [])]));
  const zone = $('drop-zone');
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    if (e.dataTransfer) void droppedFiles(e.dataTransfer.items).then(openFolder);
  });
  // A button, so the keyboard reaches it: pressing it opens the folder chooser.
  zone.addEventListener('click', () => $<HTMLInputElement>('folder').click());

  const query = new URLSearchParams(location.search);
  for (const [param, id] of [
    ['backend', 'backend'],
    ['seed', 'seed'],
    ['stopAfter', 'stop-after'],
  ] as const) {
    const value = query.get(param);
    if (value !== null) $<HTMLInputElement>(id).value = value;
  }
  // Said at once; training then replaces it with the backend it runs on (unless that was quicker).
  void describeBrowserAdapter().then((line) => {
    if ($('adapter').dataset.backend === undefined) $('adapter').textContent = `WebGPU adapter: ${line}`;
  });
  state('ready');
  if (query.get('autorun') === '1') $<HTMLFormElement>('train-form').requestSubmit();
}

wire();
