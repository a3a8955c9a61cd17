// The formatter, checked by `npm run lint` and applied by `npm run format`. Prettier's
// defaults are the code's style (double quotes, semicolons, trailing commas, parens
// around every arrow parameter); only the width is the project's own.
export default {
  printWidth: 120,
};
