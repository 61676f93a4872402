// Import progress: polls the job's progress while it is queued or running, reloads when done.
(() => {
  const bar = document.getElementById("import-progress");
  if (!bar || !bar.dataset.progressUrl) return;
  const label = document.getElementById("import-progress-label");
  const count = document.getElementById("import-progress-count");
  const countTemplate = count ? count.textContent : "";
  const poll = async () => {
    try {
      const response = await fetch(bar.dataset.progressUrl, {headers: {Accept: "application/json"}});
      if (!response.ok) throw new Error(String(response.status));
      const progress = await response.json();
      if (progress.finished) {
        window.location.reload();
        return;
      }
      bar.max = Math.max(progress.total, 1);
      bar.value = progress.processed;
      bar.textContent = `${progress.percent} %`;
      if (label) label.textContent = progress.label;
      if (count) count.textContent = countTemplate.replace(/\d[\d.,]*/, String(progress.processed));
    } catch (error) {
      // A hiccup (network, restart): keep trying, more slowly.
      window.setTimeout(poll, 5000);
      return;
    }
    window.setTimeout(poll, 1500);
  };
  window.setTimeout(poll, 1000);
})();
