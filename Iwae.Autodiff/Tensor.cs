using System.Numerics;
using System.Runtime.CompilerServices;

namespace Iwae.Autodiff;

/// <summary>
/// A dense, row-major, 2-D block of numbers: <c>Rows x Cols</c> values starting at an offset in a
/// shared buffer. A value type, so creating one (for example from an <see cref="Arena{T}"/>) allocates
/// nothing on the managed heap. Views (<see cref="Reshape"/>, <see cref="RowSlice"/>) share storage.
/// </summary>
/// <typeparam name="T"><see cref="float"/> for training, <see cref="double"/> for gradient checks.</typeparam>
public readonly struct Tensor<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[]? _buffer;
    private readonly int _offset;

    /// <summary>Number of rows.</summary>
    public int Rows { get; }

    /// <summary>Number of columns.</summary>
    public int Cols { get; }

    /// <summary>Rows * Cols.</summary>
    public int Length => Rows * Cols;

    /// <summary>True for the default (storage-less) tensor.</summary>
    public bool IsNull => _buffer is null;

    internal Tensor(T[] buffer, int offset, int rows, int cols)
    {
        if (rows < 0 || cols < 0) throw new ArgumentOutOfRangeException(nameof(rows), $"shape [{rows},{cols}] has a negative dimension");
        if ((long)offset + (long)rows * cols > buffer.Length) throw new ArgumentException($"shape [{rows},{cols}] at offset {offset} does not fit a buffer of {buffer.Length}");
        _buffer = buffer;
        _offset = offset;
        Rows = rows;
        Cols = cols;
    }

    /// <summary>A new tensor of zeros with its own storage (allocates; use for parameters and data, not per step).</summary>
    public static Tensor<T> Zeros(int rows, int cols) => new(new T[checked(rows * cols)], 0, rows, cols);

    /// <summary>Wraps <paramref name="data"/> (row-major, length rows*cols) without copying.</summary>
    public static Tensor<T> FromArray(int rows, int cols, T[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Length != (long)rows * cols) throw new ArgumentException($"data has {data.Length} values, shape [{rows},{cols}] needs {(long)rows * cols}", nameof(data));
        return new Tensor<T>(data, 0, rows, cols);
    }

    /// <summary>A new tensor filled with <paramref name="value"/>.</summary>
    public static Tensor<T> Full(int rows, int cols, T value)
    {
        var t = Zeros(rows, cols);
        t.Span.Fill(value);
        return t;
    }

    /// <summary>The values, row-major.</summary>
    public Span<T> Span
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _buffer is null ? Span<T>.Empty : new Span<T>(_buffer, _offset, Rows * Cols);
    }

    /// <summary>Row <paramref name="r"/> as a span of length Cols.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Span<T> Row(int r) => new(_buffer, _offset + r * Cols, Cols);

    /// <summary>Element (r, c).</summary>
    public ref T this[int r, int c]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            if ((uint)r >= (uint)Rows || (uint)c >= (uint)Cols) ThrowIndex(r, c);
            return ref _buffer![_offset + r * Cols + c];
        }
    }

    private void ThrowIndex(int r, int c) => throw new IndexOutOfRangeException($"({r},{c}) is outside shape [{Rows},{Cols}]");

    /// <summary>The same storage seen as <paramref name="rows"/> x <paramref name="cols"/> (same Length).</summary>
    public Tensor<T> Reshape(int rows, int cols)
    {
        if ((long)rows * cols != Length) throw new ArgumentException($"cannot view [{Rows},{Cols}] as [{rows},{cols}]");
        return _buffer is null ? default : new Tensor<T>(_buffer, _offset, rows, cols);
    }

    /// <summary>Rows [start, start+count) as a view.</summary>
    public Tensor<T> RowSlice(int start, int count)
    {
        if (start < 0 || count < 0 || start + count > Rows) throw new ArgumentOutOfRangeException(nameof(start), $"rows [{start},{start + count}) outside [0,{Rows})");
        return new Tensor<T>(_buffer!, _offset + start * Cols, count, Cols);
    }

    /// <summary>A copy with its own storage.</summary>
    public Tensor<T> Clone()
    {
        var t = Zeros(Rows, Cols);
        Span.CopyTo(t.Span);
        return t;
    }

    /// <summary>The values as a new array, row-major.</summary>
    public T[] ToArray() => Span.ToArray();

    /// <summary>"[rows,cols]".</summary>
    public string ShapeString => $"[{Rows},{Cols}]";

    /// <inheritdoc />
    public override string ToString() => $"Tensor<{typeof(T).Name}>{ShapeString}";
}
