module.exports = eval("require")("../gate/index.js");
