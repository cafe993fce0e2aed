"""Exercise cases for notebooks/10-asyncio-with-aiomqtt.ipynb (run by tests/test_exercises.py)."""

EXERCISES = [
    {
        "wrong": {
            "ignores the filter: the first message": (
                "async def first_match(client, wildcard):\n"
                "    async for message in client.messages:\n"
                "        return message\n"
            ),
            "the second message, whatever it is": (
                "async def first_match(client, wildcard):\n"
                "    seen = 0\n"
                "    async for message in client.messages:\n"
                "        seen += 1\n"
                "        if seen == 2:\n"
                "            return message\n"
            ),
            "a hard-coded filter": (
                "async def first_match(client, wildcard):\n"
                "    async for message in client.messages:\n"
                '        if message.topic.matches("exercise/+/temp"):\n'
                "            return message\n"
            ),
            "break instead of return (returns None)": (
                "async def first_match(client, wildcard):\n"
                "    async for message in client.messages:\n"
                "        if message.topic.matches(wildcard):\n"
                "            break\n"
            ),
            "returns the topic, not the message": (
                "async def first_match(client, wildcard):\n"
                "    async for message in client.messages:\n"
                "        if message.topic.matches(wildcard):\n"
                "            return message.topic\n"
            ),
            "a plain def, not a coroutine": (
                "def first_match(client, wildcard):\n"
                "    for message in client.messages:\n"
                "        if message.topic.matches(wildcard):\n"
                "            return message\n"
            ),
        },
        "right": {
            "break, then return after the loop": (
                "async def first_match(client, wildcard):\n"
                "    async for message in client.messages:\n"
                "        if message.topic.matches(wildcard):\n"
                "            break\n"
                "    return message\n"
            ),
            "anext() in a while loop, and paho's topic_matches_sub": (
                "from paho.mqtt.client import topic_matches_sub\n\n\n"
                "async def first_match(client, wildcard):\n"
                "    while True:\n"
                "        message = await anext(client.messages)\n"
                "        if topic_matches_sub(wildcard, str(message.topic)):\n"
                "            return message\n"
            ),
        },
    },
]
