namespace MlPipelines.ManagedEngine.Formats.Gguf;

// Typed access to metadata for the readers built on this file. Integer keys are accepted in any
// integer type, since converters differ (llama.cpp writes UINT32, others INT32 or UINT64).
public sealed partial class GgufFile
{
    /// <summary>The integer at <paramref name="key"/>, or null when absent.</summary>
    /// <exception cref="InvalidDataException">The value is not an integer (or does not fit in 64 signed bits).</exception>
    internal long? GetInteger(string key)
    {
        if (!Metadata.TryGetValue(key, out object? value)) return null;
        return TryAsInteger(value, out long result) ? result
            : throw Invalid(key, value is ulong big ? $"is {big}, which does not fit in a signed 64-bit integer" : $"has type {TypeName(value)}; expected an integer");
    }

    /// <summary>The integer at <paramref name="key"/> within [<paramref name="min"/>, <paramref name="max"/>], or null when absent.</summary>
    internal int? GetInt32(string key, int min, int max)
    {
        long? value = GetInteger(key);
        if (value is null) return null;
        if (value < min || value > max)
            throw Invalid(key, $"is {value}; expected {min} to {max}");
        return (int)value;
    }

    /// <summary>Like <see cref="GetInt32"/> but the key must be present.</summary>
    internal int RequireInt32(string key, int min, int max) =>
        GetInt32(key, min, max) ?? throw Missing(key, "an integer");

    /// <summary>The number at <paramref name="key"/> as fp32 (FLOAT32, FLOAT64 or an integer), or null when absent.</summary>
    internal float? GetFloat(string key)
    {
        if (!Metadata.TryGetValue(key, out object? value)) return null;
        return value switch
        {
            float f => f,
            double d => (float)d,
            _ when TryAsInteger(value, out long l) => l,
            _ => throw Invalid(key, $"has type {TypeName(value)}; expected a number (FLOAT32)"),
        };
    }

    /// <summary>The string at <paramref name="key"/>, or null when absent.</summary>
    internal string? GetString(string key)
    {
        if (!Metadata.TryGetValue(key, out object? value)) return null;
        return value as string ?? throw Invalid(key, $"has type {TypeName(value)}; expected a STRING");
    }

    /// <summary>The bool at <paramref name="key"/>, or null when absent.</summary>
    internal bool? GetBool(string key)
    {
        if (!Metadata.TryGetValue(key, out object? value)) return null;
        return value as bool? ?? throw Invalid(key, $"has type {TypeName(value)}; expected a BOOL");
    }

    /// <summary>The array of strings at <paramref name="key"/>, or null when absent.</summary>
    internal string[]? GetStringArray(string key)
    {
        if (!Metadata.TryGetValue(key, out object? value)) return null;
        return value as string[] ?? throw Invalid(key, $"has type {TypeName(value)}; expected an ARRAY of STRING");
    }

    /// <summary>The array of numbers at <paramref name="key"/> as fp32 (FLOAT32 or FLOAT64 elements), or null when absent.</summary>
    internal float[]? GetFloatArray(string key)
    {
        if (!Metadata.TryGetValue(key, out object? value)) return null;
        return value switch
        {
            float[] f => f,
            double[] d => Array.ConvertAll(d, x => (float)x),
            _ => throw Invalid(key, $"has type {TypeName(value)}; expected an ARRAY of FLOAT32"),
        };
    }

    /// <summary>The array of integers at <paramref name="key"/> (any integer element type) as int32, or null when absent.</summary>
    internal int[]? GetInt32Array(string key)
    {
        if (!Metadata.TryGetValue(key, out object? value)) return null;
        if (value is int[] ints) return ints;
        if (value is not Array array || !IsIntegerType(array.GetType().GetElementType()!))
            throw Invalid(key, $"has type {TypeName(value)}; expected an ARRAY of INT32");
        var result = new int[array.Length];
        for (int i = 0; i < result.Length; i++)
        {
            if (!TryAsInteger(array.GetValue(i)!, out long v) || v < int.MinValue || v > int.MaxValue)
                throw Invalid(key, $"element {i} is {array.GetValue(i)}, outside the INT32 range");
            result[i] = (int)v;
        }
        return result;
    }

    internal InvalidDataException Invalid(string key, string problem) => new($"{Path}: metadata '{key}' {problem}");

    internal InvalidDataException Missing(string key, string expected) => new($"{Path}: metadata '{key}' is missing; expected {expected}");

    internal static bool TryAsInteger(object value, out long result)
    {
        switch (value)
        {
            case byte v: result = v; return true;
            case sbyte v: result = v; return true;
            case ushort v: result = v; return true;
            case short v: result = v; return true;
            case uint v: result = v; return true;
            case int v: result = v; return true;
            case long v: result = v; return true;
            case ulong v when v <= long.MaxValue: result = (long)v; return true;
            default: result = 0; return false;
        }
    }

    /// <summary>The GGUF name of a metadata value's type, for messages.</summary>
    internal static string TypeName(object value) => TypeName(value.GetType());

    private static string TypeName(Type type) =>
        type.IsArray ? "ARRAY of " + TypeName(type.GetElementType()!)
        : Type.GetTypeCode(type) switch
        {
            TypeCode.Byte => "UINT8", TypeCode.SByte => "INT8", TypeCode.UInt16 => "UINT16", TypeCode.Int16 => "INT16",
            TypeCode.UInt32 => "UINT32", TypeCode.Int32 => "INT32", TypeCode.Single => "FLOAT32", TypeCode.Boolean => "BOOL",
            TypeCode.String => "STRING", TypeCode.UInt64 => "UINT64", TypeCode.Int64 => "INT64", TypeCode.Double => "FLOAT64",
            _ => type == typeof(object) ? "ARRAY" : type.Name,
        };

    private static bool IsIntegerType(Type type) => Type.GetTypeCode(type) is TypeCode.Byte or TypeCode.SByte or TypeCode.UInt16
        or TypeCode.Int16 or TypeCode.UInt32 or TypeCode.Int32 or TypeCode.UInt64 or TypeCode.Int64;
}
