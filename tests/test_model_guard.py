import openai
import pytest

from tests.conftest import RealModelCallError


async def test_a_real_model_call_fails_in_tests() -> None:
    client = openai.AsyncOpenAI(api_key="sk-test", base_url="http://127.0.0.1:9/v1", max_retries=0)
    with pytest.raises(RealModelCallError, match="real model call attempted"):
        await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])


@pytest.mark.real_model
async def test_a_real_model_test_reaches_only_127_0_0_1() -> None:
    client = openai.AsyncOpenAI(api_key="k", base_url="http://192.0.2.1:9/v1", max_retries=0)
    with pytest.raises(RealModelCallError, match="real model call attempted"):
        await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
