// srgan serve: upload, poll the job, compare before/after. No dependencies.
"use strict";
const $ = (id) => document.getElementById(id);
let chosen = null;
let blendable = {};

function updateStrength() {
  // The strength slider blends a GAN model towards its fidelity base; shown only for such models.
  $("strength-box").hidden = !(($("model").value) in blendable);
  $("strength-value").textContent = Number($("strength").value).toFixed(2);
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

async function loadModels() {
  const info = await (await fetch("/api/models")).json();
  blendable = info.blendable || {};
  for (const name of info.models) {
    const option = document.createElement("option");
    option.value = option.textContent = name;
    $("model").appendChild(option);
  }
  updateStrength();
  $("limits").textContent = `Up to ${info.max_upload_mb.toFixed(0)} MB and ${(info.max_pixels / 1e6).toFixed(1)} megapixels.`;
}

function choose(file) {
  chosen = file;
  showError("");
  $("go").disabled = !file;
  $("drop").querySelector("p").textContent = file ? `Selected: ${file.name}` : "Drop an image here";
}

async function upscale() {
  if (!chosen) return;
  showError("");
  $("go").disabled = true;
  $("result").hidden = true;
  const form = new FormData();
  form.append("file", chosen);
  form.append("model", $("model").value);
  if (!$("strength-box").hidden) form.append("strength", $("strength").value);
  if ($("outscale").value === "fit") form.append("width", $("fit-width").value);
  else if ($("outscale").value) form.append("outscale", $("outscale").value);
  try {
    const response = await fetch("/api/upscale", { method: "POST", body: form });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
    await follow(body.id);
  } catch (err) {
    showError(err.message);
  } finally {
    $("go").disabled = !chosen;
    $("progress").hidden = true;
  }
}

async function follow(id) {
  $("progress").hidden = false;
  for (;;) {
    const job = await (await fetch(`/api/jobs/${id}`)).json();
    if (job.error && job.status !== "failed") throw new Error(job.error);
    const { done, total } = job.progress;
    $("bar").max = Math.max(total, 1);
    $("bar").value = done;
    const unit = job.frames > 1 ? "frame" : "tile";
    $("progress-text").textContent = total ? `${job.status}: ${unit} ${done} of ${total}` : job.status;
    if (job.status === "failed") throw new Error(job.error);
    if (job.status === "done") return show(job);
    await new Promise((r) => setTimeout(r, 300));
  }
}

function show(job) {
  $("after").src = job.result;
  $("before").src = job.input_preview;
  $("download").href = job.result;
  $("download").textContent = `Download ${job.format.toUpperCase()}`;
  const frames = job.frames > 1 ? `, ${job.frames} frames` : "";
  $("size").textContent = `${job.width} × ${job.height} px${frames}`;
  $("result").hidden = false;
  setSlider();
}

function setSlider() {
  const v = Number($("slider").value);
  $("before").style.clipPath = `inset(0 ${100 - v}% 0 0)`;
  $("divider").style.left = `${v}%`;
}

$("file").addEventListener("change", (e) => choose(e.target.files[0] || null));
$("go").addEventListener("click", upscale);
$("slider").addEventListener("input", setSlider);
$("model").addEventListener("change", updateStrength);
$("outscale").addEventListener("change", () => { $("fit-box").hidden = $("outscale").value !== "fit"; });
$("strength").addEventListener("input", updateStrength);
$("zoom").addEventListener("change", (e) => $("viewer").classList.toggle("zoom", e.target.checked));
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("hover"); });
drop.addEventListener("dragleave", () => drop.classList.remove("hover"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("hover");
  choose(e.dataTransfer.files[0] || null);
});
loadModels().catch((err) => showError(`cannot reach the server: ${err.message}`));
