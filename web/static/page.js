// Behaviour every page shares, kept out of the templates so the Content-Security-Policy can forbid
// inline script.

// htmx requests carry the page's CSRF token, as forms do.
document.body.addEventListener('htmx:configRequest', function (event) {
  event.detail.headers['X-CSRFToken'] = document.querySelector('meta[name=csrf-token]').content;
});

// A form with data-confirm asks before it is sent.
document.addEventListener('submit', function (event) {
  var question = event.target.getAttribute && event.target.getAttribute('data-confirm');
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
