using System.Numerics;

namespace Iwae.Autodiff;

/// <summary>A persistent, trainable tensor with its gradient. Tapes accumulate (+=) into <see cref="Grad"/>.</summary>
public sealed class Parameter<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Name used in checkpoints and messages, e.g. "encoder.0.W".</summary>
    public string Name { get; }

    /// <summary>The values.</summary>
    public Tensor<T> Value { get; }

    /// <summary>d loss / d Value, accumulated by <see cref="Tape{T}.Backward(Var{T})"/>.</summary>
    public Tensor<T> Grad { get; }

    /// <summary>A parameter of zeros.</summary>
    public Parameter(string name, int rows, int cols) : this(name, Tensor<T>.Zeros(rows, cols)) { }

    /// <summary>A parameter that owns <paramref name="value"/>.</summary>
    public Parameter(string name, Tensor<T> value)
    {
        Name = name;
        Value = value;
        Grad = Tensor<T>.Zeros(value.Rows, value.Cols);
    }

    /// <summary>Rows of the value.</summary>
    public int Rows => Value.Rows;

    /// <summary>Columns of the value.</summary>
    public int Cols => Value.Cols;

    /// <summary>Sets the gradient to zero.</summary>
    public void ZeroGrad() => Grad.Span.Clear();

    /// <inheritdoc />
    public override string ToString() => $"{Name}{Value.ShapeString}";
}

/// <summary>Helpers over parameter lists.</summary>
public static class ParameterExtensions
{
    /// <summary>Zeroes every gradient.</summary>
    public static void ZeroGrad<T>(this IReadOnlyList<Parameter<T>> parameters) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < parameters.Count; i++) parameters[i].ZeroGrad();
    }

    /// <summary>Total number of scalar values.</summary>
    public static long ValueCount<T>(this IReadOnlyList<Parameter<T>> parameters) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long n = 0;
        for (int i = 0; i < parameters.Count; i++) n += parameters[i].Value.Length;
        return n;
    }
}
