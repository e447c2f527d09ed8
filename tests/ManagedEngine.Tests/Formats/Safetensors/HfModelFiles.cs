using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using MlPipelines.ManagedEngine.Formats;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Formats.Safetensors;

/// <summary>One tensor of a test model directory: its dtype name, shape and stored bytes.</summary>
internal sealed record HfTensor(string Name, string DType, long[] Shape, byte[] Data)
{
    public float[] Floats => MemoryMarshal.Cast<byte, float>(Data).ToArray();
}

/// <summary>
/// Builds Hugging Face model directories for tests from models/stories260K-hf: copies in
/// F16 or BF16, sharded copies, and broken variants. The committed files are read here, never changed;
/// the copies live in temporary directories.
/// </summary>
internal static class HfModelFiles
{
    public static string Stories260KHf => Path.Combine(TestPaths.Models, "stories260K-hf");

    /// <summary>The tensors of stories260K-hf in file order, parsed here independently of the reader.</summary>
    public static IReadOnlyList<HfTensor> ReadStories260K() => Cached.Value;

    private static readonly Lazy<IReadOnlyList<HfTensor>> Cached = new(() => ReadTensors(Path.Combine(Stories260KHf, "model.safetensors")));

    /// <summary>The tensors of a safetensors file in data order, parsed here independently of the reader.</summary>
    public static IReadOnlyList<HfTensor> ReadTensors(string path)
    {
        byte[] file = File.ReadAllBytes(path);
        int n = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(file));
        using var header = JsonDocument.Parse(file.AsMemory(8, n));
        var tensors = new List<(long Begin, HfTensor Tensor)>();
        foreach (JsonProperty p in header.RootElement.EnumerateObject())
        {
            if (p.Name == "__metadata__") continue;
            long begin = p.Value.GetProperty("data_offsets")[0].GetInt64(), end = p.Value.GetProperty("data_offsets")[1].GetInt64();
            long[] shape = p.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            byte[] data = file.AsSpan((int)(8 + n + begin), (int)(end - begin)).ToArray();
            tensors.Add((begin, new HfTensor(p.Name, p.Value.GetProperty("dtype").GetString()!, shape, data)));
        }
        return tensors.OrderBy(t => t.Begin).Select(t => t.Tensor).ToList();
    }

    /// <summary>stories260K-hf's tensors narrowed to "F16" or "BF16" (round to nearest even).</summary>
    public static IReadOnlyList<HfTensor> Narrowed(string dtype) => ReadStories260K().Select(t =>
    {
        float[] values = t.Floats;
        var halves = new ushort[values.Length];
        if (dtype == "F16") HalfPrecision.NarrowToF16(values, halves);
        else if (dtype == "BF16") HalfPrecision.NarrowToBf16(values, halves);
        else throw new ArgumentOutOfRangeException(nameof(dtype));
        return t with { DType = dtype, Data = MemoryMarshal.AsBytes(halves.AsSpan()).ToArray() };
    }).ToList();

    /// <summary>stories260K-hf's config.json, optionally edited.</summary>
    public static string Config(Action<JsonObject>? edit = null)
    {
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(Stories260KHf, "config.json")))!.AsObject();
        edit?.Invoke(config);
        return config.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Writes config.json and a single model.safetensors into <paramref name="directory"/>.</summary>
    public static string WriteModel(string directory, IEnumerable<HfTensor> tensors, string? config = null, int extraHeaderSpaces = 0)
    {
        File.WriteAllText(Path.Combine(directory, "config.json"), config ?? Config());
        Shard(tensors).Write(Path.Combine(directory, "model.safetensors"), extraHeaderSpaces);
        return directory;
    }

    /// <summary>stories260K-hf's tensors with <paramref name="edit"/> applied to each (null drops the tensor).</summary>
    public static IReadOnlyList<HfTensor> Edited(Func<HfTensor, HfTensor?> edit) =>
        ReadStories260K().Select(edit).OfType<HfTensor>().ToList();

    /// <summary>Writes config.json, two shards (the first <paramref name="firstShardCount"/> tensors, then the rest) and their index.</summary>
    public static string WriteSharded(string directory, IReadOnlyList<HfTensor> tensors, int firstShardCount)
    {
        File.WriteAllText(Path.Combine(directory, "config.json"), Config());
        string[] names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"];
        IEnumerable<HfTensor>[] parts = [tensors.Take(firstShardCount), tensors.Skip(firstShardCount)];
        var weightMap = new JsonObject();
        for (int i = 0; i < 2; i++)
        {
            Shard(parts[i]).Write(Path.Combine(directory, names[i]));
            foreach (HfTensor t in parts[i]) weightMap[t.Name] = names[i];
        }
        var index = new JsonObject
        {
            ["metadata"] = new JsonObject { ["total_size"] = tensors.Sum(t => (long)t.Data.Length) },
            ["weight_map"] = weightMap,
        };
        File.WriteAllText(Path.Combine(directory, "model.safetensors.index.json"), index.ToJsonString());
        return directory;
    }

    private static SafetensorsWriter Shard(IEnumerable<HfTensor> tensors)
    {
        var writer = new SafetensorsWriter();
        foreach (HfTensor t in tensors) writer.Add(t.Name, t.DType, t.Shape, t.Data);
        return writer;
    }
}
