namespace MlPipelines.ManagedEngine.Loading;

/// <summary>The on-disk formats a model can be read from.</summary>
public enum ModelFormat
{
    /// <summary>A llama2.c legacy (version 0) fp32 checkpoint (<c>.bin</c>), as Karpathy's tinyllamas.</summary>
    Llama2c,

    /// <summary>A llama2.c version-2 checkpoint with int8 Q8_0 weights (as runq.c reads).</summary>
    Llama2cInt8,

    /// <summary>A Hugging Face model directory: <c>config.json</c> plus <c>model.safetensors</c> (or sharded with an index).</summary>
    HuggingFace,

    /// <summary>A GGUF file (llama.cpp), which also carries its tokenizer.</summary>
    Gguf,

    /// <summary>
    /// An ONNX export: a directory written by this project's exporter (<see cref="ModelSource.ExportManifestFileName"/>
    /// beside an ONNX graph), another tool's export directory or an <c>.onnx</c> file (<see cref="OnnxExportLayout"/>): it
    /// holds a graph, not weights, and runs on the ONNX Runtime engine.
    /// </summary>
    OnnxExport,
}
