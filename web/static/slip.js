/* The assignment slip's print button (kept out of the page: no inline scripts). */
document.getElementById('print-slip').addEventListener('click', function () { window.print(); });
