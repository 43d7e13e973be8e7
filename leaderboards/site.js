/* The board's one script, inlined into every page: sortable columns, a row filter and the
   data-set selector. It reads only the page (no data in it, nothing fetched), so it runs from
   file:// and offline; without it every table and section is simply shown. */
(function () {
  'use strict';
  function cellKey(row, index) {
    var cell = row.cells[index];
    if (!cell) { return ''; }
    return cell.hasAttribute('data-value') ? cell.getAttribute('data-value') : cell.textContent.trim();
  }
  function sortBy(th) {
    var table = th.closest('table');
    var body = table.tBodies[0];
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var ascending = th.getAttribute('aria-sort') !== 'ascending';
    table.querySelectorAll('thead th').forEach(function (other) { other.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellKey(a, index), y = cellKey(b, index);
      var empty = (x === '') - (y === '');
      if (empty) { return empty; }  /* missing figures last, whichever way */
      var nx = parseFloat(x), ny = parseFloat(y);
      var cmp = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return ascending ? cmp : -cmp;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  document.querySelectorAll('table.board thead th button.sort').forEach(function (button) {
    button.addEventListener('click', function () { sortBy(button.closest('th')); });
  });
  function applyFilter(table) {
    var box = document.querySelector('input[data-filter="' + table.id + '"]');
    var toggle = document.querySelector('input[data-hide-controls="' + table.id + '"]');
    var words = box ? box.value.toLowerCase().split(/\s+/).filter(Boolean) : [];
    var hideControls = toggle ? toggle.checked : false;
    /* a select[data-filter-by=NAME] keeps the rows whose data-NAME is the chosen value */
    var choices = document.querySelectorAll('select[data-filter-by][data-table="' + table.id + '"]');
    Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
      var text = row.textContent.toLowerCase();
      var shown = words.every(function (w) { return text.indexOf(w) >= 0; });
      if (hideControls && row.hasAttribute('data-control')) { shown = false; }
      choices.forEach(function (choice) {
        var chosen = choice.value;
        if (chosen !== '*' && row.getAttribute('data-' + choice.getAttribute('data-filter-by')) !== chosen) {
          shown = false;
        }
      });
      row.hidden = !shown;
    });
  }
  var filters = 'input[data-filter], input[data-hide-controls], select[data-filter-by]';
  document.querySelectorAll(filters).forEach(function (input) {
    var id = input.getAttribute('data-filter') || input.getAttribute('data-hide-controls') ||
      input.getAttribute('data-table');
    var table = document.getElementById(id);
    if (table) { input.addEventListener('input', function () { applyFilter(table); }); }
    if (table) { input.addEventListener('change', function () { applyFilter(table); }); }
  });
  var selector = document.getElementById('dataset');
  function showDataset() {
    var chosen = selector.value;
    document.querySelectorAll('[data-dataset]').forEach(function (block) {
      block.hidden = chosen !== '*' && block.getAttribute('data-dataset') !== chosen;
    });
  }
  if (selector) { selector.addEventListener('change', showDataset); showDataset(); }
}());
