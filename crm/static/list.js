// Startups list: "select all on this page", stages of the chosen programme, export progress.
// Everything here enhances forms that work without JavaScript.
(() => {
  "use strict";

  const wholePage = document.querySelector("[data-select-page]");
  if (wholePage) {
    const rows = () => document.querySelectorAll("[data-row-select]");
    wholePage.addEventListener("change", () => {
      rows().forEach((box) => { box.checked = wholePage.checked; });
    });
    // Unticking one row means "not the whole page" any more.
    rows().forEach((box) => box.addEventListener("change", () => {
      if (!box.checked) wholePage.checked = false;
    }));
  }

  const programme = document.querySelector("[data-programme-select]");
  const stage = document.querySelector("[data-stage-select]");
  if (programme && stage) {
    const showStages = () => {
      stage.querySelectorAll("optgroup").forEach((group) => {
        const shown = !programme.value || group.dataset.programme === programme.value;
        group.hidden = !shown;
        group.disabled = !shown;
      });
      const chosen = stage.selectedOptions[0];
      if (chosen && chosen.parentElement.disabled) stage.value = "";
    };
    programme.addEventListener("change", showStages);
    // A stage belongs to a programme: picking one picks its programme too.
    stage.addEventListener("change", () => {
      const group = stage.selectedOptions[0] && stage.selectedOptions[0].parentElement;
      if (group && group.dataset.programme && !programme.value) {
        programme.value = group.dataset.programme;
        showStages();
      }
    });
    showStages();
  }

  const waiting = document.querySelector("[data-reload-after]");
  if (waiting) {
    const seconds = Number(waiting.dataset.reloadAfter) || 3;
    window.setTimeout(() => window.location.reload(), seconds * 1000);
  }
})();
