using MlPipelines.ManagedEngine.Formats.Llama2c;
using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.ManagedEngine.Formats.Safetensors;

/// <summary>
/// Reads Hugging Face Llama model directories (<c>LlamaForCausalLM</c>): <c>config.json</c> plus
/// <c>model.safetensors</c>, or shards listed in <c>model.safetensors.index.json</c>. The files are
/// memory-mapped; fp32 tensors are views into the mappings, while F16/BF16 tensors are widened to
/// fp32 and q_proj/k_proj have their rows put back in Meta order (see <see cref="RotaryRows"/>),
/// both into native buffers. The result computes exactly what transformers computes.
/// </summary>
/// <remarks>
/// The tokenizer is not part of the weights: a directory's <c>tokenizer.model</c> is found by
/// <see cref="Loading.TokenizerLoader.FindBeside"/> like a llama2.c model's tokenizer.
/// Weights are not checked for NaN or infinity, for the same reason as in <see cref="Llama2cCheckpoint"/>.
/// </remarks>
public static class HuggingFaceCheckpoint
{
    /// <summary>The configuration file of a model directory.</summary>
    public const string ConfigFileName = "config.json";

    /// <summary>
    /// True when <paramref name="path"/> is a directory holding <c>config.json</c> and either
    /// <c>model.safetensors</c> or <c>model.safetensors.index.json</c>. Only checks that the files
    /// exist, so it is cheap; <see cref="Load(string)"/> validates them.
    /// </summary>
    public static bool IsModelDirectory(string path) =>
        !string.IsNullOrEmpty(path)
        && Directory.Exists(path)
        && File.Exists(Path.Combine(path, ConfigFileName))
        && (File.Exists(Path.Combine(path, SafetensorsTensorSet.WeightsFileName))
            || File.Exists(Path.Combine(path, SafetensorsTensorSet.IndexFileName)));

    /// <summary>Loads the weights of the model directory <paramref name="directory"/>; dispose them to unmap and free them.</summary>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    /// <exception cref="FileNotFoundException">config.json, the weights, or a shard the index lists is missing.</exception>
    /// <exception cref="InvalidDataException">A file is malformed, or a tensor is missing or has the wrong shape; the message names it.</exception>
    /// <exception cref="NotSupportedException">The model is not a plain Llama (another architecture, RoPE scaling, biases), or a weight's dtype is not F32, F16 or BF16.</exception>
    public static LlamaWeights Load(string directory) => Load(directory, out _);

    /// <summary>
    /// Loads the weights of <paramref name="directory"/> and reports how many bytes of native memory
    /// the conversion took. For an fp32 checkpoint that is the size of the q and k projections, whose
    /// rows are always reordered; for F16/BF16 it is the whole model at four bytes per weight.
    /// </summary>
    /// <param name="directory">The model directory.</param>
    /// <param name="convertedBytes">Bytes allocated for converted tensors, beyond the file mappings.</param>
    /// <inheritdoc cref="Load(string)" path="/exception"/>
    public static LlamaWeights Load(string directory, out long convertedBytes)
    {
        string configPath = CheckDirectory(directory);
        HuggingFaceConfig config = HuggingFaceConfig.Load(configPath);
        var memory = new WeightMemory();
        try
        {
            SafetensorsTensorSet tensors = SafetensorsTensorSet.Open(directory, memory);
            LlamaWeights weights = new LlamaTensorReader(tensors, config, configPath, memory).Read(directory);
            convertedBytes = memory.AllocatedBytes;
            return weights;
        }
        catch
        {
            memory.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Loads the weights of <paramref name="directory"/> as stored: F32, F16 and BF16 matrices are used in place from the
    /// file mappings (q and k in their Hugging Face row order, which the forward pass rotates as such), so loading costs
    /// no more memory than the files' pages; only norm weights (and a matrix misaligned in its file) are converted.
    /// The model computes bit for bit what <see cref="Load(string)"/>'s widened weights compute.
    /// </summary>
    /// <inheritdoc cref="Load(string)" path="/exception"/>
    public static WeightStorage.StoredLlamaWeights LoadStored(string directory)
    {
        string configPath = CheckDirectory(directory);
        HuggingFaceConfig config = HuggingFaceConfig.Load(configPath);
        var memory = new WeightMemory();
        try
        {
            SafetensorsTensorSet tensors = SafetensorsTensorSet.Open(directory, memory);
            return new LlamaTensorReader(tensors, config, configPath, memory).ReadStored(directory);
        }
        catch
        {
            memory.Dispose();
            throw;
        }
    }

    /// <summary>The path of <paramref name="directory"/>'s config.json, once both are known to exist.</summary>
    private static string CheckDirectory(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"{directory}: no such directory; expected a Hugging Face model directory (config.json and model.safetensors).");
        string configPath = Path.Combine(directory, ConfigFileName);
        if (!File.Exists(configPath))
            throw new FileNotFoundException($"{directory}: holds no {ConfigFileName}; expected a Hugging Face model directory.", configPath);
        return configPath;
    }
}
