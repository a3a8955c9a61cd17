module.exports = eval("require")("../../dist/gate/index.js");
