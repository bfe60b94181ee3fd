// "Add another" for repeating records (several accused): clones the row template with the next index.
document.addEventListener('click', function (event) {
  if (!event.target.classList.contains('add-record')) return;
  var fieldset = event.target.closest('fieldset.records');
  var next = fieldset.querySelectorAll(':scope > .record').length;
  var html = fieldset.querySelector('template').innerHTML.replace(/__i__/g, String(next));
  event.target.insertAdjacentHTML('beforebegin', html);
});
